//! Tests of `sample::cgroup_stats` on the captured v1 and hand-written v2 trees under
//! `fixtures/cgroup/` (see its README), and on texts fed through a map.

use std::collections::BTreeMap;

use super::*;
use crate::sample::cgroup::parse_mountinfo;

/// Docker containers captured on this project's cgroup v1 (hybrid) host.
const V1_THROTTLED: &str = "856eeb3d09c332f0cc078262139d4688b7c00585a519fe25a91fded3cc1c8aa1";
const V1_OOM_KILLED: &str = "69f172a8daf18b94fbdd0a630f7172e2a862bad04570fce02096db1f68af2efd";
const V1_UNDER_OOM: &str = "bebd7e13f8ce5bd20a59038736f552846391a66663760dca567489c218682469";
const V2_DOCKER_SCOPE: &str =
    "/system.slice/docker-4f1c3b2a9d8e7f6051a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708.scope";
const V2_POD: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d7e9c3a_5b1f_4e2a_9c6d_8a7b6c5d4e3f.slice";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cgroup")
        .join(name)
}

fn text(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// The fixture's mountinfo, with mount points moved under the fixture directory.
fn mounts(name: &str) -> Vec<CgroupMount> {
    let root = fixture(name);
    parse_mountinfo(&text(&root.join("mountinfo")))
        .into_iter()
        .map(|mut m| {
            m.mount_point = root.join(m.mount_point.strip_prefix("/").unwrap());
            m
        })
        .collect()
}

/// The dirs of the process whose /proc/PID/cgroup the fixture holds.
fn dirs_of(name: &str) -> CgroupDirs {
    let dirs = CgroupDirs::for_proc_cgroup(&text(&fixture(name).join("cgroup")), &mounts(name));
    dirs.unwrap_or_else(|| panic!("no cgroup dirs for {name}"))
}

fn stats_of(name: &str) -> CgroupStats {
    read_stats(&dirs_of(name), &SysFiles)
}

/// A v1 controller's directory of a captured container.
fn v1_dir(name: &str, controller: &str, id: &str) -> PathBuf {
    fixture(name).join(format!("sys/fs/cgroup/{controller}/docker/{id}"))
}

/// Files as a map from path to text, for texts no kernel writes.
#[derive(Default)]
struct MapFiles(BTreeMap<PathBuf, String>);

impl MapFiles {
    fn with(mut self, path: &str, text: &str) -> MapFiles {
        self.0.insert(PathBuf::from(path), text.to_owned());
        self
    }
}

impl CgroupFiles for MapFiles {
    fn read(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }

    fn subdirs(&self, dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self
            .0
            .keys()
            .flat_map(|p| p.ancestors())
            .filter(|a| a.parent() == Some(dir))
            .filter(|a| !self.0.contains_key(*a))
            .map(Path::to_path_buf)
            .collect();
        found.sort();
        found.dedup();
        found
    }
}

fn v2_dirs(dir: &str) -> CgroupDirs {
    let dir = Some(PathBuf::from(dir));
    CgroupDirs {
        version: CgroupVersion::V2,
        memory: dir.clone(),
        cpu: dir.clone(),
        cpuacct: None,
        pids: dir.clone(),
        pressure: dir,
    }
}

#[test]
fn keyed_parser_is_tolerant() {
    let text = "a 1\nunknown 7\nb x\nc 2 extra\n\n d   3 \nnot-a-pair\na 9\n";
    assert_eq!(
        parse_keyed(text, ["a", "b", "c", "d", "e"]),
        [Some(1), None, None, Some(3), None]
    );
    assert_eq!(parse_keyed("", ["a"]), [None]);
    assert_eq!(parse_keyed("a -1\n", ["a"]), [None]);
}

#[test]
fn single_number_files() {
    assert_eq!(parse_count("26152960\n"), Some(26_152_960));
    assert_eq!(parse_count("max\n"), None);
    assert_eq!(parse_count(""), None);
    assert_eq!(parse_count("-1"), None);
    assert_eq!(parse_count("12 34"), None);
    assert_eq!(parse_count_or_max("max\n"), Some(None));
    assert_eq!(parse_count_or_max("4096\n"), Some(Some(4096)));
    assert_eq!(parse_count_or_max("lots"), None);
    assert_eq!(parse_v1_cpuacct_usage("1500000000\n"), Some(1.5));
}

#[test]
fn pressure_lines() {
    let both = "some avg10=1.53 avg60=0.87 avg300=0.22 total=4830212\n\
                full avg10=0.91 avg60=0.40 avg300=0.10 total=2311870\n";
    assert_eq!(
        parse_pressure(both),
        Some(Pressure {
            some_avg10_pct: 1.53,
            some_avg60_pct: 0.87,
            some_total_s: 4.830212,
            full_avg10_pct: Some(0.91),
            full_total_s: Some(2.31187),
        })
    );
    // cpu.pressure before Linux 5.13 has no full line.
    let some_only = parse_pressure("some avg10=2.04 avg60=1.10 avg300=0.35 total=812400\n");
    assert_eq!(some_only.as_ref().map(|p| p.full_total_s), Some(None));
    assert_eq!(some_only.map(|p| p.some_total_s), Some(0.8124));
    // A malformed full line loses only the full fields.
    let bad_full = parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=x\n");
    assert_eq!(
        bad_full.map(|p| (p.some_total_s, p.full_avg10_pct)),
        Some((5e-6, None))
    );
    assert_eq!(
        parse_pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
        None
    );
    assert_eq!(parse_pressure("some avg10=0.00 avg60=0.00\n"), None);
    assert_eq!(parse_pressure("some avg10=abc avg60=0.00 total=0\n"), None);
    assert_eq!(parse_pressure("some total\n"), None);
    assert_eq!(parse_pressure(""), None);
}

#[test]
fn procs_lines() {
    let mut pids = vec![1];
    parse_procs_into("17017\n\n  20001 \nzombie\n-4\n", &mut pids);
    assert_eq!(pids, [1, 17017, 20001]);
}

#[test]
fn v1_container_resolved_from_proc_cgroup_with_separate_cpu_and_cpuacct() {
    let dirs = dirs_of("v1/throttled");
    let name = "v1/throttled";
    assert_eq!(
        dirs,
        CgroupDirs {
            version: CgroupVersion::V1,
            memory: Some(v1_dir(name, "memory", V1_THROTTLED)),
            cpu: Some(v1_dir(name, "cpu", V1_THROTTLED)),
            cpuacct: Some(v1_dir(name, "cpuacct", V1_THROTTLED)),
            pids: Some(v1_dir(name, "pids", V1_THROTTLED)),
            // The hybrid v2 tree has the container's pressure files.
            pressure: Some(v1_dir(name, "unified", V1_THROTTLED)),
        }
    );
}

#[test]
fn v1_combined_cpu_cpuacct_mount() {
    let root = Path::new("/fake/sys/fs/cgroup");
    let mount = |dir: &str, controllers: &[&str]| CgroupMount {
        mount_point: root.join(dir),
        root: "/".to_owned(),
        hierarchy: Hierarchy::V1 {
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        },
    };
    let mounts = [
        mount("cpu,cpuacct", &["cpu", "cpuacct"]),
        mount("memory", &["memory"]),
    ];
    let mut dirs = CgroupDirs::empty(&mounts);
    dirs.set_v1(&mounts[0], root.join("cpu,cpuacct/docker/x"));
    assert_eq!(dirs.cpu, Some(root.join("cpu,cpuacct/docker/x")));
    assert_eq!(dirs.cpuacct, dirs.cpu);
    assert_eq!(dirs.memory, None);
    assert_eq!(dirs.version, CgroupVersion::V1);
}

#[test]
fn v1_throttled_container_exact() {
    assert_eq!(
        stats_of("v1/throttled"),
        CgroupStats {
            memory_bytes: Some(25_927_680),
            anon_bytes: Some(20_520_960),
            file_bytes: Some(4_952_064),
            kernel_bytes: Some(454_656),
            sock_bytes: None,
            shmem_bytes: Some(0),
            inactive_file_bytes: Some(4_935_680),
            working_set_bytes: Some(25_927_680 - 4_935_680),
            oom_events: None,
            oom_kill_events: Some(0),
            under_oom: Some(false),
            cpu_usage_s: Some(15_714_242_940.0 / 1e9),
            cpu_periods: Some(316),
            // A 1-core burner under --cpus 0.5: throttled in 95% of its periods.
            cpu_throttled_periods: Some(300),
            cpu_throttled_s: Some(11_749_529_867.0 / 1e9),
            pids: Some(4),
            memory_pressure: Some(Pressure {
                full_avg10_pct: Some(0.0),
                full_total_s: Some(0.0),
                ..Pressure::default()
            }),
            cpu_pressure: Some(Pressure {
                some_avg10_pct: 40.45,
                some_avg60_pct: 16.19,
                some_total_s: 13.244351,
                full_avg10_pct: Some(40.44),
                full_total_s: Some(13.243539),
            }),
        }
    );
    assert_eq!(procs(&dirs_of("v1/throttled"), &SysFiles), [17017]);
}

#[test]
fn v1_oom_kills_are_counted() {
    let dirs = dirs_of("v1/oom-killed");
    assert_eq!(
        dirs.memory,
        Some(v1_dir("v1/oom-killed", "memory", V1_OOM_KILLED))
    );
    let stats = read_stats(&dirs, &SysFiles);
    assert_eq!(stats.oom_kill_events, Some(2));
    assert_eq!(stats.under_oom, Some(false));
    assert_eq!(stats.oom_events, None);
    assert_eq!(stats.memory_bytes, Some(516_096));
    assert_eq!(stats.working_set_bytes, Some(516_096 - 4096));
    // The victims thrashed before they were killed: memory stalls in the hybrid v2 tree.
    let pressure = stats.memory_pressure.unwrap();
    assert_eq!(pressure.some_avg60_pct, 27.35);
    assert_eq!(pressure.full_total_s, Some(32.633054));
}

#[test]
fn v1_under_oom_with_the_killer_disabled() {
    let dirs = dirs_of("v1/under-oom");
    assert_eq!(
        dirs.pids,
        Some(v1_dir("v1/under-oom", "pids", V1_UNDER_OOM))
    );
    let stats = read_stats(&dirs, &SysFiles);
    assert_eq!(stats.under_oom, Some(true));
    assert_eq!(stats.oom_kill_events, Some(0));
    assert_eq!(stats.memory_bytes, Some(16_777_216));
    assert_eq!(stats.anon_bytes, Some(16_343_040));
    assert_eq!(stats.working_set_bytes, Some(16_777_216));
    // No CPU quota: no periods, and that is a real 0.
    assert_eq!(stats.cpu_periods, Some(0));
    assert_eq!(stats.pids, Some(2));
    assert_eq!(procs(&dirs, &SysFiles), [19882, 20001]);
}

#[test]
fn v2_docker_scope_exact() {
    let dirs = dirs_of("v2/docker");
    let dir = fixture("v2/docker/sys/fs/cgroup").join(V2_DOCKER_SCOPE.trim_start_matches('/'));
    assert_eq!(dirs, v2_dirs(dir.to_str().unwrap()));
    assert_eq!(
        read_stats(&dirs, &SysFiles),
        CgroupStats {
            memory_bytes: Some(200_282_112),
            anon_bytes: Some(150_994_944),
            file_bytes: Some(41_943_040),
            kernel_bytes: Some(6_291_456),
            sock_bytes: Some(1_048_576),
            shmem_bytes: Some(4_194_304),
            inactive_file_bytes: Some(33_554_432),
            working_set_bytes: Some(166_727_680),
            oom_events: Some(3),
            oom_kill_events: Some(2),
            under_oom: None,
            cpu_usage_s: Some(183.25),
            cpu_periods: Some(3600),
            cpu_throttled_periods: Some(1224),
            cpu_throttled_s: Some(61.42),
            pids: Some(7),
            memory_pressure: Some(Pressure {
                some_avg10_pct: 1.53,
                some_avg60_pct: 0.87,
                some_total_s: 4.830212,
                full_avg10_pct: Some(0.91),
                full_total_s: Some(2.31187),
            }),
            cpu_pressure: Some(Pressure {
                some_avg10_pct: 41.2,
                some_avg60_pct: 38.75,
                some_total_s: 95.210433,
                full_avg10_pct: Some(39.87),
                full_total_s: Some(91.28812),
            }),
        }
    );
    assert_eq!(procs(&dirs, &SysFiles), [4242, 4250, 4251]);
}

#[test]
fn v2_older_kernel_pod() {
    let mounts = mounts("v2/pod-5.10");
    let pod = CgroupDirs::from_path(V2_POD, &mounts).unwrap();
    let stats = read_stats(&pod, &SysFiles);
    // No `kernel` key before 5.18: stacks + per-CPU + slab.
    assert_eq!(stats.kernel_bytes, Some(294_912 + 61_440 + 2_523_136));
    assert_eq!(stats.working_set_bytes, Some(73_400_320 - 12_582_912));
    assert_eq!(stats.oom_kill_events, Some(0));
    assert_eq!(stats.cpu_throttled_periods, Some(12));
    assert_eq!(stats.cpu_throttled_s, Some(0.24));
    assert_eq!(
        stats.cpu_pressure.as_ref().map(|p| p.full_avg10_pct),
        Some(None)
    );
    assert_eq!(
        stats.memory_pressure.map(|p| p.full_total_s),
        Some(Some(0.0))
    );
    // The pod's processes live in its containers' cgroups.
    assert_eq!(procs(&pod, &SysFiles), [101, 102, 205]);

    // A process in one container: that scope only, which has no memory files of its own.
    let scope = dirs_of("v2/pod-5.10");
    assert!(
        scope
            .memory
            .as_ref()
            .unwrap()
            .ends_with("cri-containerd-aaa111.scope")
    );
    let scope_stats = read_stats(&scope, &SysFiles);
    assert_eq!(scope_stats.pids, Some(3));
    assert_eq!(scope_stats.memory_bytes, None);
    assert_eq!(scope_stats.working_set_bytes, None);
    assert_eq!(procs(&scope, &SysFiles), [101, 102]);
}

#[test]
fn from_path_takes_a_cgroup_path_or_a_directory() {
    let name = "v1/throttled";
    let mounts = mounts(name);
    let expected = dirs_of(name);
    let cgroup_path = format!("/docker/{V1_THROTTLED}");
    assert_eq!(
        CgroupDirs::from_path(&cgroup_path, &mounts).unwrap(),
        expected
    );
    // A directory under any one controller finds the others.
    let cpuacct = v1_dir(name, "cpuacct", V1_THROTTLED);
    assert_eq!(
        CgroupDirs::from_path(cpuacct.to_str().unwrap(), &mounts).unwrap(),
        expected
    );
    let trailing = format!("{}/", v1_dir(name, "memory", V1_THROTTLED).display());
    assert_eq!(CgroupDirs::from_path(&trailing, &mounts).unwrap(), expected);

    let v2_mounts = self::mounts("v2/docker");
    let v2_dir = fixture("v2/docker/sys/fs/cgroup").join(V2_DOCKER_SCOPE.trim_start_matches('/'));
    assert_eq!(
        CgroupDirs::from_path(v2_dir.to_str().unwrap(), &v2_mounts).unwrap(),
        dirs_of("v2/docker")
    );
}

#[test]
fn unknown_cgroup_is_bad_input() {
    let mounts = mounts("v1/throttled");
    for path in ["/docker/nope", "/docker/../../etc", "relative/nope"] {
        let err = CgroupDirs::from_path(path, &mounts).unwrap_err();
        assert!(err.is_bad_input(), "{path}: {err}");
        assert!(err.to_string().contains(path), "{err}");
    }
    let err = CgroupDirs::from_path("/docker/x", &[]).unwrap_err();
    assert!(!err.is_bad_input());
    // A process whose cgroups are not under our mounts has none to read.
    assert_eq!(
        CgroupDirs::for_proc_cgroup("4:memory:/gone\n0::/gone\n", &mounts),
        None
    );
    assert_eq!(
        CgroupDirs::for_proc_cgroup("0::/../../x\n", &self::mounts("v2/docker")),
        None
    );
}

#[test]
fn missing_files_give_none_never_zero() {
    let files = MapFiles::default().with("/cg/memory.current", "1000\n");
    let stats = read_stats(&v2_dirs("/cg"), &files);
    assert_eq!(
        stats,
        CgroupStats {
            memory_bytes: Some(1000),
            ..CgroupStats::default()
        }
    );
    assert_eq!(
        read_stats(&v2_dirs("/elsewhere"), &files),
        CgroupStats::default()
    );
    assert!(procs(&v2_dirs("/cg"), &files).is_empty());
    let none = CgroupDirs {
        memory: None,
        cpu: None,
        pids: None,
        pressure: None,
        ..v2_dirs("/cg")
    };
    assert!(procs(&none, &files).is_empty());
}

#[test]
fn malformed_files_give_none() {
    let garbage = "\u{0}\u{1}not a cgroup file\n42 is not a key\nmax\n";
    let mut files = MapFiles::default();
    for name in [
        "memory.current",
        "memory.stat",
        "memory.events",
        "cpu.stat",
        "pids.current",
        "memory.pressure",
        "cpu.pressure",
        "cgroup.procs",
    ] {
        files = files.with(&format!("/cg/{name}"), garbage);
    }
    assert_eq!(read_stats(&v2_dirs("/cg"), &files), CgroupStats::default());
    assert!(procs(&v2_dirs("/cg"), &files).is_empty());

    // Some keys right, some wrong: each field on its own.
    let files = MapFiles::default()
        .with("/cg/memory.current", "5000\n")
        .with(
            "/cg/memory.stat",
            "anon 100\nfile lots\ninactive_file 7000\n",
        )
        .with(
            "/cg/cpu.stat",
            "usage_usec 2500000\nnr_periods\nnr_throttled 3\n",
        );
    let stats = read_stats(&v2_dirs("/cg"), &files);
    assert_eq!(stats.anon_bytes, Some(100));
    assert_eq!(stats.file_bytes, None);
    assert_eq!(stats.kernel_bytes, None);
    // Inactive cache above usage (read a moment apart): floored at 0.
    assert_eq!(stats.working_set_bytes, Some(0));
    assert_eq!(stats.cpu_usage_s, Some(2.5));
    assert_eq!(stats.cpu_periods, None);
    assert_eq!(stats.cpu_throttled_periods, Some(3));
}

#[test]
fn v1_reads_each_controller_in_its_own_dir() {
    let dirs = CgroupDirs {
        version: CgroupVersion::V1,
        memory: Some(PathBuf::from("/m")),
        cpu: Some(PathBuf::from("/c")),
        cpuacct: Some(PathBuf::from("/a")),
        pids: Some(PathBuf::from("/p")),
        pressure: None,
    };
    let files = MapFiles::default()
        .with("/m/memory.usage_in_bytes", "9000\n")
        .with(
            "/m/memory.stat",
            "rss 1\ntotal_rss 4000\ntotal_inactive_file 1000\n",
        )
        .with("/m/memory.oom_control", "oom_kill_disable 0\nunder_oom 2\n")
        .with(
            "/c/cpu.stat",
            "nr_periods 10\nnr_throttled 5\nthrottled_time 250000000\n",
        )
        .with("/a/cpuacct.usage", "3000000000\n")
        .with("/p/pids.current", "6\n")
        // Read from memory's dir, not these.
        .with("/c/cgroup.procs", "1\n")
        .with("/m/cgroup.procs", "7\n");
    let stats = read_stats(&dirs, &files);
    assert_eq!(stats.memory_bytes, Some(9000));
    // The hierarchical total_rss, not this cgroup's own rss.
    assert_eq!(stats.anon_bytes, Some(4000));
    assert_eq!(stats.working_set_bytes, Some(8000));
    // A kernel before 4.13: no oom_kill; under_oom neither 0 nor 1.
    assert_eq!(stats.oom_kill_events, None);
    assert_eq!(stats.under_oom, None);
    assert_eq!(stats.cpu_usage_s, Some(3.0));
    assert_eq!(stats.cpu_throttled_s, Some(0.25));
    assert_eq!(stats.cpu_throttled_periods, Some(5));
    assert_eq!(stats.pids, Some(6));
    assert_eq!(stats.memory_pressure, None);
    assert_eq!(procs(&dirs, &files), [7]);
}

#[test]
fn procs_of_nested_cgroups_sorted_without_repeats() {
    let files = MapFiles::default()
        .with("/pod/cgroup.procs", "")
        .with("/pod/a/cgroup.procs", "30\n10\n")
        .with("/pod/b/cgroup.procs", "20\n10\n")
        .with("/pod/b/inner/cgroup.procs", "40\n");
    assert_eq!(procs(&v2_dirs("/pod"), &files), [10, 20, 30, 40]);
}

#[test]
fn this_process_is_in_its_own_cgroup() {
    let Ok(proc_cgroup) = fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    let mounts = crate::sample::cgroup::host_mounts();
    let Some(dirs) = CgroupDirs::for_proc_cgroup(&proc_cgroup, &mounts) else {
        assert!(
            mounts.is_empty(),
            "{proc_cgroup} not found under {mounts:?}"
        );
        return;
    };
    assert!(
        procs(&dirs, &SysFiles).contains(&std::process::id()),
        "{dirs:?}"
    );
    // Whatever this host gives, reading it never fails.
    let stats = read_stats(&dirs, &SysFiles);
    if let (Some(memory), Some(working_set)) = (stats.memory_bytes, stats.working_set_bytes) {
        assert!(working_set <= memory);
    }
}
