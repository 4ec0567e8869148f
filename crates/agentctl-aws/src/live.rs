//! Reads what AWS holds for a deployment into the core's `Live` state, and turns
//! it into plans for apply and destroy.

use agentctl_core::cidr;
use agentctl_core::config::{Config, NetworkConfig};
use agentctl_core::model::{Context, Stack};
use agentctl_core::plan::{self, Action, Foreign, Live, Plan, ResourceChange};

use agentctl_core::names::Names;

use crate::adapters::{self, ReadContext};
use crate::error::Error;
use crate::Aws;

impl Aws {
    /// What every stack of this account needs: its id and zones.
    pub fn context(&self) -> Context {
        Context {
            aws_account_id: Some(self.account_id.clone()),
            availability_zones: Some(self.availability_zones.clone()),
            subnet_cidr_blocks: None,
        }
    }
}

/// The context a plan of `config` needs: the account's and, when new subnets go
/// in an existing VPC wherever there is room, where that is (read from the VPC,
/// before any change). No room, or no such VPC, is the config's error.
pub async fn plan_context(aws: &Aws, config: &Config) -> Result<Context, Error> {
    let mut ctx = aws.context();
    let NetworkConfig::ExistingVpc { vpc_id, cidr_block: None, .. } = &config.network else {
        return Ok(ctx);
    };
    let names = Names::of_config(config, Some(&aws.account_id));
    let (vpc_cidr, found) = match adapters::ec2::room_in_vpc(aws, vpc_id, &names).await {
        Err(Error::Aws(e)) if e.meaning == crate::Meaning::NotFound => {
            return Err(Error::Input {
                message: format!("`vpc_id`: there is no VPC {vpc_id} in {}", config.region),
                help: "check `vpc_id` and `region` (aws ec2 describe-vpcs lists the VPCs)".into(),
            })
        }
        other => other?,
    };
    let ranges = cidr::subnet_ranges(&vpc_cidr, &found)
        .map_err(|why| Error::Input { message: format!("VPC {vpc_id}: {why}"), help: cidr::NO_ROOM_HELP.into() })?;
    ctx.subnet_cidr_blocks = Some(ranges);
    Ok(ctx)
}

/// Every resource under this deployment's names, read concurrently: resources in
/// the stack go to `resources` (ours or not: diff refuses foreign ones); ours
/// that the config no longer wants go to `orphans`.
///
/// `adopt` names untagged resources a killed run of ours created (from its lock).
pub async fn read(aws: &Aws, stack: &Stack, adopt: &[String]) -> Result<Live, Error> {
    let names = names_of(aws, stack);
    let found = adapters::read_all(aws, &names, ReadContext { vpc_hint: stack.existing.vpc_id.as_deref() }).await?;
    let mut live = Live::default();
    for (addr, l) in found {
        let name = names.of(addr).or(l.outputs.get("name").map(String::as_str)).unwrap_or(&l.id).to_owned();
        let adopted = l.owner().is_none() && adopt.contains(&name);
        if adopted {
            live.adopted.insert(addr);
        }
        if stack.get(addr).is_some() {
            live.resources.insert(addr, l);
        } else if adopted
            || l.owner() == Some(stack.deployment.as_str())
            || (!addr.kind.taggable() && stack.get(agentctl_core::model::addr::SERVICE).is_some())
        {
            live.orphans.push((addr, name, l));
        }
    }
    Ok(live)
}

/// The live plan: read, then diff. Foreign resources stop it.
pub async fn plan(aws: &Aws, stack: &Stack, adopt: &[String]) -> Result<(Plan, Live), Error> {
    let live = read(aws, stack, adopt).await?;
    let plan = plan::diff(stack, &live).map_err(Error::Foreign)?;
    Ok((plan, live))
}

/// What destroy would delete: every resource carrying our ownership tag, in
/// reverse dependency order. Foreign ones under our names are listed apart and
/// never touched.
pub async fn destroy_plan(aws: &Aws, stack: &Stack, adopt: &[String]) -> Result<(Plan, Live, Vec<Foreign>), Error> {
    let names = names_of(aws, stack);
    let found = adapters::read_all(aws, &names, ReadContext { vpc_hint: stack.existing.vpc_id.as_deref() }).await?;
    let mut live = Live::default();
    let mut foreign = Vec::new();
    for (addr, l) in found {
        let name = names.of(addr).or(l.outputs.get("name").map(String::as_str)).unwrap_or(&l.id).to_owned();
        let adopted = l.owner().is_none() && adopt.contains(&name);
        // Untaggable resources are found through our service's id or our name.
        if adopted || !addr.kind.taggable() || l.owner() == Some(stack.deployment.as_str()) {
            live.orphans.push((addr, name, l));
        } else {
            let owner = l.owner().map(str::to_owned);
            foreign.push(Foreign { address: addr.to_string(), kind: addr.kind.noun(), name, id: l.id.clone(), owner });
        }
    }
    live.orphans.sort_by_key(|(addr, _, _)| (std::cmp::Reverse(agentctl_core::model::depth(*addr)), *addr));
    let changes = live
        .orphans
        .iter()
        .map(|(addr, name, l)| ResourceChange {
            addr: *addr,
            name: name.clone(),
            action: Action::Delete,
            attrs: vec![],
            changes: vec![],
            live_id: Some(l.id.clone()),
            depends_on: vec![],
        })
        .collect();
    let plan = Plan {
        deployment: stack.deployment.clone(),
        region: stack.region.clone(),
        changes,
        existing: stack.existing.clone(),
    };
    Ok((plan, live, foreign))
}

fn names_of(aws: &Aws, stack: &Stack) -> Names {
    stack.names(Some(&aws.account_id))
}
