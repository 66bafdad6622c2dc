//! The programs' few calls to the operating system beyond Rust's std, each with why it exists.
//! They are all here, so that the rest of each program is plain Rust. They build for Linux
//! (glibc and musl, 64- and 32-bit) and for macOS; where the two differ, the function says how.
//!
//! Native Windows is not a target (WSL2 is): none of these calls exists there, so each would
//! need a second body through `windows-sys` (SetConsoleCtrlHandler for the stop signals,
//! GetAdaptersAddresses, winsock's gethostname and listen), none of which we could run here.
//! Beyond this file, the autoscaler reaches Docker through a Unix socket (a named pipe on
//! Windows).

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;

/// SIGTERM and SIGINT, blocked in the thread that made this value and in every thread it
/// starts later: they wait for `wait` instead of killing the process at a random point.
pub struct StopSignals(libc::sigset_t);

impl StopSignals {
    /// Blocks SIGTERM and SIGINT in the calling thread. Call it first thing in `main`, before
    /// any thread exists, since threads inherit the mask. Blocked signals also reach PID 1 in a
    /// container, which otherwise ignores SIGTERM and makes `docker stop` wait 10 s before it
    /// sends SIGKILL.
    pub fn block() -> StopSignals {
        // SAFETY: plain libc calls on a sigset_t that lives on our stack.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            StopSignals(set)
        }
    }

    /// Waits until SIGTERM or SIGINT arrives and returns its name.
    pub fn wait(&self) -> &'static str {
        let mut signal = 0;
        // SAFETY: the set is initialised; sigwait only writes `signal`.
        unsafe { libc::sigwait(&self.0, &mut signal) };
        if signal == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        }
    }
}

/// Lets a closed stdout end the process quietly, as any Unix filter (`consumer | head -3`):
/// Rust starts programs with SIGPIPE ignored, and every later line would be an error. Sockets
/// are unaffected: std writes to them with MSG_NOSIGNAL on Linux, and sets SO_NOSIGPIPE on
/// macOS.
pub fn end_on_closed_stdout() {
    // SAFETY: restores a default signal disposition; call it before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Gives a bound socket an accept queue `backlog` deep, for bursts of new clients: std listens
/// with 128, and calling listen(2) again changes it.
pub fn listen(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) on a socket we own.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises this process's open-files limit to `wanted`, as far as its hard limit allows: each
/// connection takes a file descriptor, and the usual soft limit is 1,024 (256 on macOS).
/// Returns the limit now in force, or `None` if it cannot be read.
#[allow(clippy::unnecessary_cast)] // rlim_t is u32 on 32-bit glibc, u64 elsewhere
pub fn raise_open_files_limit(wanted: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        let before = limit.rlim_cur as u64;
        if before >= wanted {
            return Some(before);
        }
        limit.rlim_cur = wanted.min(limit.rlim_max as u64) as libc::rlim_t;
        // macOS also refuses more than its kern.maxfilesperproc: then the old limit stays.
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Some(before);
        }
    }
    Some(limit.rlim_cur as u64)
}

/// The machine's IPv4 addresses, from getifaddrs(3): the producer prints where it can be
/// reached. (std has no list of interfaces.)
pub fn ipv4_addresses() -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs hands us a linked list that we only read and then free.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut entry = list;
        while let Some(ifa) = entry.as_ref() {
            if let Some(addr) = ifa.ifa_addr.as_ref() {
                if addr.sa_family as libc::c_int == libc::AF_INET {
                    let addr = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    found.push(Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)));
                }
            }
            entry = ifa.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

/// A host name's bytes at most: POSIX's HOST_NAME_MAX (Linux allows 64) and its NUL.
pub const HOST_NAME_BYTES: usize = 256;

/// The host name's bytes, from gethostname(2), or `None` if it cannot be read: the producer
/// names itself in every answer. (std has no host name.)
pub fn host_name() -> Option<Vec<u8>> {
    let mut buffer = [0u8; HOST_NAME_BYTES];
    // SAFETY: gethostname writes at most buffer.len() bytes into our buffer.
    if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    Some(buffer[..end].to_vec())
}

/// This process's resident memory, in bytes, for the producer's metrics. On Linux: the second
/// field of /proc/self/statm, in pages.
#[cfg(target_os = "linux")]
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

/// This process's resident memory, in bytes, for the producer's metrics. On macOS, which has no
/// /proc: the task information of proc_pidinfo(3).
#[cfg(target_os = "macos")]
pub fn resident_memory_bytes() -> Option<u64> {
    // SAFETY: proc_taskinfo is plain numbers, so all zeroes is a valid value; proc_pidinfo
    // writes at most `size` bytes into it, and returns how many it wrote.
    unsafe {
        let mut info: libc::proc_taskinfo = std::mem::zeroed();
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        let written = libc::proc_pidinfo(
            libc::getpid(),
            libc::PROC_PIDTASKINFO,
            0,
            (&mut info as *mut libc::proc_taskinfo).cast(),
            size,
        );
        (written == size).then_some(info.pti_resident_size)
    }
}

/// Elsewhere the metrics leave resident memory out.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn resident_memory_bytes() -> Option<u64> {
    None
}
