//! IPv4 CIDR arithmetic for the two subnets agentctl carves from the VPC block.

use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = s.split_once('/').ok_or("is not a CIDR block (a.b.c.d/n)")?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| "has an invalid IPv4 address")?;
        let prefix: u8 = prefix.parse().map_err(|_| "has an invalid prefix length")?;
        if prefix > 32 {
            return Err("has a prefix length over 32".into());
        }
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        if u32::from(addr) & !mask != 0 {
            return Err(format!(
                "has host bits set (the network address is {}/{prefix})",
                Ipv4Addr::from(u32::from(addr) & mask)
            ));
        }
        Ok(Cidr { addr, prefix })
    }

    /// Two equal subnets at the start of the block: /24s for a large VPC, halves
    /// for a small one. AWS VPCs are /16 to /28; each subnet needs at least /28.
    pub fn subnets_for_agent(&self) -> Result<[Cidr; 2], String> {
        if !(16..=27).contains(&self.prefix) {
            return Err(format!("has prefix /{}; it must be /16 to /27 so two subnets fit", self.prefix));
        }
        let prefix = (self.prefix + 1).max(24);
        let size = 1u32 << (32 - prefix);
        let base = u32::from(self.addr);
        Ok([Cidr { addr: base.into(), prefix }, Cidr { addr: (base + size).into(), prefix }])
    }
}

impl Cidr {
    fn first(&self) -> u64 {
        u64::from(u32::from(self.addr))
    }
    /// One past the last address.
    fn end(&self) -> u64 {
        self.first() + (1u64 << (32 - self.prefix))
    }
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.first() < other.end() && other.first() < self.end()
    }
    pub fn contains(&self, other: &Cidr) -> bool {
        self.first() <= other.first() && other.end() <= self.end()
    }
}

/// Where Matillion's reference module puts new subnets in an existing VPC: the
/// first `count` blocks of `vpc` with 8 more prefix bits (at most /28, AWS's
/// smallest subnet), in address order, that overlap none of `taken`. Fewer when
/// there is no more room.
pub fn free_blocks(vpc: Cidr, taken: &[Cidr], count: usize) -> Vec<Cidr> {
    let prefix = (vpc.prefix + 8).min(28);
    if prefix <= vpc.prefix {
        return vec![];
    }
    let size = 1u64 << (32 - prefix);
    (0..1u64 << (prefix - vpc.prefix))
        .map(|n| Cidr { addr: Ipv4Addr::from((vpc.first() + n * size) as u32), prefix })
        .filter(|block| !taken.iter().any(|t| t.overlaps(block)))
        .take(count)
        .collect()
}

/// What to do when an existing VPC has no room for the deployment's subnets.
pub const NO_ROOM_HELP: &str = "free room in the VPC, set `cidr_block` to a free range of it, or use existing \
                                subnets (use_existing_subnet = true and subnet_ids)";

/// A subnet of the VPC: its range, and which of the deployment's two it is
/// (0 or 1), if one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FoundSubnet {
    pub cidr: String,
    pub ours: Option<usize>,
}

/// The ranges of the deployment's two subnets in an existing VPC: each keeps
/// the range it has (stable across applies); one still to be made gets the
/// first free block. `Err` says why there is no room.
pub fn subnet_ranges(vpc_cidr: &str, found: &[FoundSubnet]) -> Result<[String; 2], String> {
    let vpc = Cidr::parse(vpc_cidr).map_err(|e| format!("its CIDR {vpc_cidr} {e}"))?;
    let taken: Vec<Cidr> = found.iter().filter_map(|s| Cidr::parse(&s.cidr).ok()).collect();
    let mut free = free_blocks(vpc, &taken, 2).into_iter();
    let mut ranges: [Option<String>; 2] = [None, None];
    for s in found {
        if let Some(i @ 0..=1) = s.ours {
            ranges[i] = Some(s.cidr.clone());
        }
    }
    let mut pick = || free.next().map(|c| c.to_string());
    match ranges {
        [Some(a), Some(b)] => Ok([a, b]),
        [a, b] => match (a.or_else(&mut pick), b.or_else(&mut pick)) {
            (Some(a), Some(b)) => Ok([a, b]),
            _ => {
                let mut used: Vec<&str> = found.iter().map(|s| s.cidr.as_str()).collect();
                used.sort_unstable();
                Err(format!(
                    "{vpc_cidr} has no room for two /{} subnets; its subnets take {}",
                    (vpc.prefix + 8).min(28),
                    if used.is_empty() { "nothing".to_owned() } else { used.join(", ") }
                ))
            }
        },
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carves_two_subnets() {
        let s = Cidr::parse("10.0.0.0/16").unwrap().subnets_for_agent().unwrap();
        assert_eq!([s[0].to_string(), s[1].to_string()], ["10.0.0.0/24", "10.0.1.0/24"]);
        let s = Cidr::parse("192.168.4.0/26").unwrap().subnets_for_agent().unwrap();
        assert_eq!([s[0].to_string(), s[1].to_string()], ["192.168.4.0/27", "192.168.4.32/27"]);
    }

    #[test]
    fn free_blocks_skip_every_taken_range_whatever_its_size() {
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        let taken = [Cidr::parse("10.0.0.0/24").unwrap(), Cidr::parse("10.0.2.0/23").unwrap()];
        let free: Vec<String> = free_blocks(vpc, &taken, 2).iter().map(Cidr::to_string).collect();
        assert_eq!(free, ["10.0.1.0/24", "10.0.4.0/24"]);
        // A small VPC: /28 blocks, AWS's smallest subnet.
        let small = Cidr::parse("192.168.1.0/26").unwrap();
        let free: Vec<String> = free_blocks(small, &[], 2).iter().map(Cidr::to_string).collect();
        assert_eq!(free, ["192.168.1.0/28", "192.168.1.16/28"]);
        // No room: fewer than asked.
        let full = [
            Cidr::parse("10.0.0.0/17").unwrap(),
            Cidr::parse("10.0.128.0/18").unwrap(),
            Cidr::parse("10.0.192.0/19").unwrap(),
            Cidr::parse("10.0.224.0/20").unwrap(),
            Cidr::parse("10.0.240.0/21").unwrap(),
            Cidr::parse("10.0.248.0/22").unwrap(),
            Cidr::parse("10.0.252.0/23").unwrap(),
            Cidr::parse("10.0.254.0/24").unwrap(),
        ];
        let free: Vec<String> = free_blocks(vpc, &full, 2).iter().map(Cidr::to_string).collect();
        assert_eq!(free, ["10.0.255.0/24"]);
    }

    #[test]
    fn subnets_keep_their_ranges_and_new_ones_take_the_first_free() {
        let other = |c: &str| FoundSubnet { cidr: c.into(), ours: None };
        let found = [other("10.0.0.0/24"), other("10.0.2.0/23")];
        assert_eq!(subnet_ranges("10.0.0.0/16", &found).unwrap(), ["10.0.1.0/24", "10.0.4.0/24"]);
        // After apply: ours are found and keep their ranges, even if something
        // freed a lower block since.
        let found = [
            FoundSubnet { cidr: "10.0.1.0/24".into(), ours: Some(0) },
            FoundSubnet { cidr: "10.0.4.0/24".into(), ours: Some(1) },
            other("10.0.2.0/23"),
        ];
        assert_eq!(subnet_ranges("10.0.0.0/16", &found).unwrap(), ["10.0.1.0/24", "10.0.4.0/24"]);
        // One of ours made (a run killed in between): the other takes a free block.
        let found = [other("10.0.0.0/24"), FoundSubnet { cidr: "10.0.1.0/24".into(), ours: Some(0) }];
        assert_eq!(subnet_ranges("10.0.0.0/16", &found).unwrap(), ["10.0.1.0/24", "10.0.2.0/24"]);
        // No room: why, with what is taken.
        let why = subnet_ranges(
            "10.0.0.0/24",
            &[other("10.0.0.0/25"), other("10.0.0.128/26"), other("10.0.0.192/27"), other("10.0.0.224/28")],
        )
        .unwrap_err();
        assert!(why.contains("10.0.0.0/24 has no room for two /28 subnets"), "{why}");
        assert!(why.contains("10.0.0.0/25, 10.0.0.128/26"), "{why}");
    }

    #[test]
    fn containment_and_overlap() {
        let p = |s: &str| Cidr::parse(s).unwrap();
        assert!(p("10.0.0.0/16").contains(&p("10.0.1.0/24")));
        assert!(!p("10.0.0.0/16").contains(&p("10.1.0.0/24")));
        assert!(!p("10.0.0.0/24").contains(&p("10.0.0.0/16")));
        assert!(p("10.0.0.0/24").overlaps(&p("10.0.0.0/16")) && p("10.0.2.0/23").overlaps(&p("10.0.3.0/24")));
        assert!(!p("10.0.2.0/23").overlaps(&p("10.0.4.0/24")));
    }

    #[test]
    fn rejects_bad_blocks() {
        assert!(Cidr::parse("10.0.0.1/16").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0/8").unwrap().subnets_for_agent().is_err());
        assert!(Cidr::parse("10.0.0.0/28").unwrap().subnets_for_agent().is_err());
    }
}
