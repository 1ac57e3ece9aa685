//! Docker's default seccomp profile (moby `profiles/seccomp/default.json`), as data in
//! strata's own form: a list of rules, each allowing some syscalls, with the conditions on
//! capabilities, architecture and kernel that [`crate::seccomp::narrow`] evaluates.
//!
//! Everything not allowed fails with `EPERM`; `clone3` without `CAP_SYS_ADMIN` fails with
//! `ENOSYS` instead, so that libc falls back to `clone`, whose namespace flags the filter
//! can inspect (it cannot look into `clone3`'s struct).

use crate::seccomp::{ArchMap, Arg, Filter, Profile, ProfileRule};

/// Syscalls every container may make.
const ALWAYS: &str = "
349 349
    accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
    clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
    copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
    epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
    exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
    fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
    flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
    ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents
    getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
    getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
    getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
    getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
    io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
    io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
    landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
    listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
    membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
    mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
    mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
    msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat
    _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
    pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
    process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
    readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
    remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
    rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
    sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
    sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
    semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
    setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
    setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
    setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
    setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
    signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
    statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
    timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
    timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
    utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
";

/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
/// CLONE_NEWPID | CLONE_NEWNET`: a `clone` with none of these needs no `CAP_SYS_ADMIN`.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// `personality` values a container may set: `PER_LINUX`, `PER_LINUX32`,
/// `UNAME26`, `PER_LINUX32 | UNAME26`, and the query `0xffffffff`.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// `AF_VSOCK`: the one socket family a container may not open.
const AF_VSOCK: u64 = 40;

/// Native architecture → the compatible ones whose syscalls the filter also covers.
const ARCH_MAP: [(&str, &[&str]); 8] = [
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    (
        "SCMP_ARCH_MIPS64",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
    ),
    (
        "SCMP_ARCH_MIPS64N32",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
    ),
    (
        "SCMP_ARCH_MIPSEL64",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
    ),
    (
        "SCMP_ARCH_MIPSEL64N32",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
    ),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_RISCV64", &[]),
];

/// Syscalls allowed only with a capability (beyond Docker's default set), by capability.
const WITH_CAP: [(&str, &str); 14] = [
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname \
         sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// Syscalls allowed only on some architectures (Go names), by architectures.
const ON_ARCH: [(&[&str], &str); 6] = [
    (&["ppc64le"], "sync_file_range2 swapcontext"),
    (
        &["arm", "arm64"],
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    (&["amd64", "x32"], "arch_prctl"),
    (&["amd64", "x32", "x86"], "modify_ldt"),
    (
        &["s390", "s390x"],
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    (&["riscv64"], "riscv_flush_icache"),
];

fn names(list: &str) -> Vec<String> {
    list.split_whitespace().map(String::from).collect()
}

fn allow(list: &str) -> ProfileRule {
    ProfileRule {
        names: names(list),
        action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    }
}

fn arg(index: u32, value: u64, op: &str) -> Vec<Arg> {
    vec![Arg {
        index,
        value,
        value_two: 0,
        op: op.into(),
    }]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Docker's default profile.
pub fn profile() -> Profile {
    let mut rules = vec![
        allow(ALWAYS),
        ProfileRule {
            includes: Filter {
                min_kernel: Some("4.8".into()),
                ..Default::default()
            },
            // Since 4.8 the filter runs after ptrace can change a syscall, so ptrace
            // cannot be used to escape it.
            ..allow("process_vm_readv process_vm_writev ptrace")
        },
        ProfileRule {
            args: arg(0, AF_VSOCK, "SCMP_CMP_NE"),
            ..allow("socket")
        },
    ];
    rules.extend(PERSONALITIES.iter().map(|&p| ProfileRule {
        args: arg(0, p, "SCMP_CMP_EQ"),
        ..allow("personality")
    }));
    rules.extend(ON_ARCH.iter().map(|(arches, list)| ProfileRule {
        includes: Filter {
            arches: strings(arches),
            ..Default::default()
        },
        ..allow(list)
    }));
    let only_cap = |cap: &str, list: &str| ProfileRule {
        includes: Filter {
            caps: strings(&[cap]),
            ..Default::default()
        },
        ..allow(list)
    };
    let (dac, rest) = WITH_CAP.split_at(2);
    rules.extend(dac.iter().map(|(cap, list)| only_cap(cap, list)));
    let no_admin = || Filter {
        caps: strings(&["CAP_SYS_ADMIN"]),
        ..Default::default()
    };
    rules.push(ProfileRule {
        args: arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ"),
        excludes: Filter {
            arches: strings(&["s390", "s390x"]),
            ..no_admin()
        },
        ..allow("clone")
    });
    rules.push(ProfileRule {
        // s390 passes clone's flags second.
        args: arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ"),
        includes: Filter {
            arches: strings(&["s390", "s390x"]),
            ..Default::default()
        },
        excludes: no_admin(),
        ..allow("clone")
    });
    rules.push(ProfileRule {
        names: names("clone3"),
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(libc::ENOSYS as u32),
        excludes: no_admin(),
        ..Default::default()
    });
    rules.extend(rest.iter().map(|(cap, list)| only_cap(cap, list)));
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        arch_map: ARCH_MAP
            .iter()
            .map(|(arch, subs)| ArchMap {
                architecture: arch.to_string(),
                sub_architectures: (!subs.is_empty()).then(|| strings(subs)),
            })
            .collect(),
        syscalls: rules,
        ..Default::default()
    }
}
