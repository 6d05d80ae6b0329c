//! What `/proc` says about a process: CPU time and resident memory (Linux).

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on
/// every Linux architecture rws runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process (all its threads), in seconds;
/// `None` for our own process is never expected, for another means it is
/// gone or this is not Linux.
pub(super) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Then: state(0) ppid ... utime(11) stime(12).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Resident memory of a process, in KiB (`VmRSS`).
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_readable() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // Burn a little CPU so that the count can move.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(None).is_some());
        let rss = rss_kib(std::process::id()).expect("our VmRSS");
        assert!(rss > 100, "{rss} KiB");
    }
}
