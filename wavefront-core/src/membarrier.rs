//! Asymmetric memory fences (Linux `membarrier`).
//!
//! A thread that records often and a thread that reclaims rarely need a full
//! fence between them (store-load ordering). With `membarrier`, the frequent
//! side needs only a compiler fence, and the rare side issues one system call
//! that makes every thread of the process run a full fence. This is how
//! userspace RCU keeps its readers cheap.

#![allow(unsafe_code)]

use std::sync::OnceLock;

#[cfg(target_os = "linux")]
mod sys {
    const QUERY: libc::c_long = 0;
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: `membarrier` takes a command and two integer arguments,
        // reads no memory of ours and has no effect beyond fencing.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        }
    }

    pub(super) fn register() -> bool {
        let supported = membarrier(QUERY);
        supported >= 0
            && supported & PRIVATE_EXPEDITED != 0
            && membarrier(REGISTER_PRIVATE_EXPEDITED) == 0
    }

    pub(super) fn fence_all() -> bool {
        membarrier(PRIVATE_EXPEDITED) == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn fence_all() -> bool {
        false
    }
}

/// Whether [`fence_all_threads`] works here (checked and registered once).
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(sys::register)
}

/// Runs a full memory fence on every thread of the process; false if that
/// is not possible (then callers must use another protocol).
pub(crate) fn fence_all_threads() -> bool {
    available() && sys::fence_all()
}

#[cfg(test)]
mod tests {
    #[test]
    fn works_on_this_machine_when_available() {
        if super::available() {
            assert!(super::fence_all_threads());
        }
    }
}
