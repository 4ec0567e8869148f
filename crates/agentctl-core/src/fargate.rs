//! Fargate task sizes exactly as AWS accepts them (Linux, 2026).

/// (cpu units, valid memory values in MiB)
pub fn valid_memory_for_cpu(cpu: u32) -> Option<Vec<u32>> {
    let range = |lo: u32, hi: u32, step: u32| (lo..=hi).step_by(step as usize).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

pub const VALID_CPU: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

pub const EPHEMERAL_MIN_GIB: u32 = 21;
pub const EPHEMERAL_MAX_GIB: u32 = 200;

/// Runner sizes of the reference module: (name, cpu, memory).
pub const RUNNER_SIZES: [(&str, u32, u32); 4] =
    [("small", 1024, 4096), ("medium", 2048, 8192), ("large", 4096, 16384), ("xlarge", 8192, 32768)];

/// (cpu, memory) of a runner size.
pub fn runner_size(name: &str) -> Option<(u32, u32)> {
    RUNNER_SIZES.iter().find(|(n, _, _)| *n == name).map(|&(_, cpu, memory)| (cpu, memory))
}

/// "2048, 3072, ... 8192" or "16384 to 61440 in steps of 4096" for long lists.
pub fn describe_memory(values: &[u32]) -> String {
    if values.len() <= 8 {
        values.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    } else {
        let step = values[1] - values[0];
        format!("{} to {} in steps of {}", values[0], values[values.len() - 1], step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_aws() {
        assert_eq!(valid_memory_for_cpu(256).unwrap(), vec![512, 1024, 2048]);
        assert_eq!(valid_memory_for_cpu(512).unwrap(), vec![1024, 2048, 3072, 4096]);
        let m = valid_memory_for_cpu(1024).unwrap();
        assert_eq!((m[0], *m.last().unwrap(), m.len()), (2048, 8192, 7));
        let m = valid_memory_for_cpu(4096).unwrap();
        assert_eq!((m[0], *m.last().unwrap(), m.len()), (8192, 30720, 23));
        let m = valid_memory_for_cpu(8192).unwrap();
        assert_eq!((m[0], *m.last().unwrap(), m.len()), (16384, 61440, 12));
        let m = valid_memory_for_cpu(16384).unwrap();
        assert_eq!((m[0], *m.last().unwrap(), m.len()), (32768, 122880, 12));
        assert!(valid_memory_for_cpu(3000).is_none());
    }

    #[test]
    fn runner_sizes_are_valid_fargate_sizes() {
        for (_, cpu, mem) in RUNNER_SIZES {
            assert!(valid_memory_for_cpu(cpu).unwrap().contains(&mem));
        }
    }
}
