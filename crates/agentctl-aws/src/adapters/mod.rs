//! Adapters: for each kind of resource, how to read it from AWS into the core
//! model and how to create, update and delete it. Each kind implements
//! [`Adapter`] on its spec type, in the file of its AWS service; the dispatch
//! below is generated from the core's registry of kinds (`for_each_kind!`), so
//! a kind without an adapter does not compile.

pub mod autoscaling;
mod cloudmap;
pub mod cloudwatch;
pub(crate) mod ec2;
pub(crate) mod ecs;
pub(crate) mod iam;
mod logs;
mod s3;
mod secrets;

use std::collections::BTreeMap;

use agentctl_core::model::*;
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};

use crate::error::{Error, Meaning};
use crate::Aws;

pub(crate) type Outputs = BTreeMap<String, String>;

pub(crate) fn outputs(pairs: &[(&str, &str)]) -> Outputs {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// What a read needs besides the names.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadContext<'a> {
    /// The existing VPC the config deploys into, if any.
    pub vpc_hint: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOptions {
    pub force_delete_secret: bool,
    pub empty_bucket: bool,
}

/// Everything agentctl does with one kind of resource in AWS.
pub(crate) trait Adapter: KindSpec {
    /// Every resource of this kind under the deployment's names, ours or not,
    /// and ours under names the config no longer gives.
    async fn read(aws: &Aws, names: &Names, cx: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error>;

    /// Creates `r` (whose spec is `self`); the outputs dependents refer to.
    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error>;

    /// Makes the live resource, whose spec is `have`, match `self`.
    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error>;

    /// Deletes the live resource named `name` (a resource "already gone" is
    /// deleted: the caller takes it as success).
    async fn delete(aws: &Aws, name: &str, live: &LiveResource, have: &Self, opts: DeleteOptions) -> Result<(), Error>;
}

/// Every fixed address of `kind` (see `Names::all`), each read by its name,
/// all at once; `read` answers `None` for one that does not exist.
pub(crate) async fn read_each<'n, Fut>(
    names: &'n Names,
    kind: Kind,
    read: impl Fn(&'n str) -> Fut,
) -> Result<Vec<(Address, LiveResource)>, Error>
where
    Fut: std::future::Future<Output = Result<Option<LiveResource>, Error>>,
{
    let reads = names.of_kind(kind).into_iter().map(|(address, name)| {
        let reading = read(name);
        async move { Ok::<_, Error>(reading.await?.map(|l| (address, l))) }
    });
    Ok(futures::future::try_join_all(reads).await?.into_iter().flatten().collect())
}

/// A live resource whose spec is not of the kind its address says: a bug in a
/// reader, reported rather than assumed away.
fn mismatch(addr: Address) -> Error {
    Error::aws(format!("applying {addr}"), "the resource read from AWS is of another kind")
}

macro_rules! dispatch {
    ($($variant:ident($spec:ident)),* $(,)?) => {
        /// Reads every resource this deployment may own, every kind at once.
        pub(crate) async fn read_all(
            aws: &Aws,
            names: &Names,
            cx: ReadContext<'_>,
        ) -> Result<BTreeMap<Address, LiveResource>, Error> {
            // One binding per kind, named after it.
            #[allow(non_snake_case)]
            let ($($variant,)*) = tokio::try_join!($(<$spec as Adapter>::read(aws, names, cx)),*)?;
            let mut out = BTreeMap::new();
            $(out.extend($variant);)*
            Ok(out)
        }

        pub(crate) async fn create(aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
            match &r.spec {
                $(Spec::$variant(want) => want.create(aws, r, known).await,)*
            }
        }

        pub(crate) async fn update(
            aws: &Aws,
            r: &Resource,
            live: &LiveResource,
            known: &Known,
        ) -> Result<Outputs, Error> {
            match &r.spec {
                $(Spec::$variant(want) => {
                    let have = $spec::from_spec(&live.spec).ok_or_else(|| mismatch(r.addr))?;
                    want.update(aws, r, have, live, known).await
                })*
            }
        }

        pub(crate) async fn delete(
            aws: &Aws,
            addr: Address,
            name: &str,
            live: &LiveResource,
            opts: DeleteOptions,
        ) -> Result<(), Error> {
            if live.spec.kind() != addr.kind {
                return Err(mismatch(addr));
            }
            let deleted = match &live.spec {
                $(Spec::$variant(have) => <$spec as Adapter>::delete(aws, name, live, have, opts).await,)*
            };
            // Each adapter tolerates "already gone" on its intermediate steps itself.
            gone_ok(deleted)
        }
    };
}

agentctl_core::for_each_kind!(dispatch);

/// Tag changes as (set, unset) lists.
pub(crate) fn tag_delta(
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let set = want.iter().filter(|(k, v)| have.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let unset = have.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    (set, unset)
}

/// A delete (or detach) that finds its target already gone succeeded: its
/// first attempt took effect and the answer was lost, so the SDK retried.
pub(crate) fn gone_ok<T: Default>(r: Result<T, Error>) -> Result<T, Error> {
    match r {
        Err(e) if e.is(Meaning::NotFound) => Ok(T::default()),
        other => other,
    }
}
