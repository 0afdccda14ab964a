//! Diesel table definitions of rowguard's own tables (see the migrations under `migrations/`).

diesel::table! {
    /// Kinds of authorizable sets: `roles`, `groups`, `id`, `universal`, and any a DBA adds.
    authorizable_set_types (id) {
        /// Primary key.
        id -> BigInt,
        /// Unique name, e.g. `roles`.
        name -> Text,
        /// Free text for humans.
        description -> Nullable<Text>,
    }
}

diesel::table! {
    /// Models rules may be written for, with the columns rules may use.
    authorizable_models (id) {
        /// Primary key.
        id -> BigInt,
        /// Stable model name, unique (default: the table name).
        name -> Text,
        /// The table the model is stored in.
        table_name -> Text,
        /// The table's primary key column.
        primary_key -> Text,
        /// JSON object: column name → type (`integer`, `bigint`, `float`, `text`, `bool`,
        /// `date`, `timestamp`, `uuid`). The SQL column is `columns`, a name Diesel reserves.
        #[sql_name = "columns"]
        column_types -> Text,
        /// The model's ARN form, JSON (`NULL`: the defaults); see `policy::ModelArn`.
        arn -> Nullable<Text>,
    }
}

diesel::table! {
    /// One rule document per (set type, set value, model).
    authorization_rules (id) {
        /// Primary key.
        id -> BigInt,
        /// The set type, e.g. the id of `roles`.
        authorizable_set_type_id -> BigInt,
        /// The set value, e.g. `agent`.
        authorizable_set_value -> Text,
        /// The model the rules apply to.
        authorizable_model_id -> BigInt,
        /// The rule document, JSON text.
        rules -> Text,
    }
}

diesel::table! {
    /// One row whose version changes on every write to the three tables above.
    authorization_state (id) {
        /// Always 1.
        id -> Integer,
        /// Bumped by triggers.
        version -> BigInt,
    }
}

diesel::joinable!(authorization_rules -> authorizable_set_types (authorizable_set_type_id));
diesel::joinable!(authorization_rules -> authorizable_models (authorizable_model_id));
diesel::allow_tables_to_appear_in_same_query!(
    authorizable_set_types,
    authorizable_models,
    authorization_rules,
    authorization_state,
);

diesel::table! {
    /// RBAC roles. `all_permissions` is the `"*"` wildcard: every permission.
    roles (id) {
        /// Primary key.
        id -> BigInt,
        /// Unique name.
        name -> Text,
        /// Free text.
        description -> Nullable<Text>,
        /// Holds every permission (`"*"`).
        all_permissions -> Bool,
    }
}

diesel::table! {
    /// RBAC permissions: dot-separated lowercase segments (`console.command.reboot`).
    permissions (id) {
        /// Primary key.
        id -> BigInt,
        /// Unique name.
        name -> Text,
        /// Free text.
        description -> Nullable<Text>,
    }
}

diesel::table! {
    /// Which role holds which permission directly.
    role_permissions (role_id, permission_id) {
        /// The role.
        role_id -> BigInt,
        /// The permission.
        permission_id -> BigInt,
    }
}

diesel::table! {
    /// `role_id` inherits every permission of `parent_role_id` (transitively).
    role_inheritance (role_id, parent_role_id) {
        /// The inheriting role.
        role_id -> BigInt,
        /// The role inherited from.
        parent_role_id -> BigInt,
    }
}

diesel::joinable!(role_permissions -> permissions (permission_id));
diesel::allow_tables_to_appear_in_same_query!(
    roles,
    permissions,
    role_permissions,
    role_inheritance
);

diesel::table! {
    /// Relations between models: what a rule condition such as `"contact_type.name"` reaches.
    authorizable_relations (id) {
        /// Primary key.
        id -> BigInt,
        /// The model the relation belongs to.
        authorizable_model_id -> BigInt,
        /// The name rules use, unique per model.
        name -> Text,
        /// `belongs_to` or `has_many`.
        kind -> Text,
        /// The model's column.
        local_column -> Text,
        /// The related model.
        target_model_id -> BigInt,
        /// The related model's column equal to `local_column`.
        target_column -> Text,
        /// belongs_to: the right needed on a parent a written row points at (NULL: none).
        check_right -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(authorizable_relations, authorizable_models);

diesel::table! {
    /// One IAM-style policy document per (set type, set value).
    authorization_policies (id) {
        /// Primary key.
        id -> BigInt,
        /// The set type's name, e.g. `roles`.
        set_type -> Text,
        /// The set value, e.g. `agent`.
        set_value -> Text,
        /// The policy document, JSON text.
        policy -> Text,
    }
}
