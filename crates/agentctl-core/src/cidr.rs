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
    fn rejects_bad_blocks() {
        assert!(Cidr::parse("10.0.0.1/16").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0/8").unwrap().subnets_for_agent().is_err());
        assert!(Cidr::parse("10.0.0.0/28").unwrap().subnets_for_agent().is_err());
    }
}
