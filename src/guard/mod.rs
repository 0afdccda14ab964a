//! Enforcement: the [`Authorizer`] (shared: configuration, cache) and the [`Guard`] (one
//! subject) that scopes reads and checks writes.
//!
//! Precedence: override → absolute rights → any `"*"` → OR of searches →
//! nothing = deny.
//!
//! - [`access`](ModelAccess): what the rules say about one model for one subject's sets;
//! - `authorizer`: loading, caching and deciding ([`Authorizer`]);
//! - `front`: each thread's private copies of recent cache hits;
//! - `policies`: a subject's IAM-style policies, merged, cached and checked;
//! - `explain`: a decision written out ([`Explanation`]);
//! - `relations`: relation conditions protected, decided for one row, foreign-key targets;
//! - `subject_guard`: the per-subject [`Guard`] with its scoped reads and checked writes.

mod access;
mod authorizer;
mod columns;
mod decision;
mod explain;
mod front;
mod policies;
mod relations;
mod subject_guard;

pub use self::access::{Bypass, ModelAccess};
pub use self::authorizer::Authorizer;
pub use self::columns::{ColumnRights, ReadMask};
pub use self::explain::Explanation;
pub use self::policies::{
    model_type, with_rbac, BrokenPolicy, ModelType, PolicyDecision, PolicyReason, PolicyResource,
    ServiceResource, StatementOrigin, SubjectPolicy,
};
pub use self::relations::{ForeignKeyCheck, RelatedRead, RelatedReads};
pub use self::subject_guard::Guard;
