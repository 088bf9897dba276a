//! `--cgroup PATH` and `--container ID`: a cgroup as the target, its processes summed.
//!
//! A container is found from `/proc/*/cgroup` alone (no container daemon is asked): each
//! process's cgroup path is searched for the ID segments that Docker, containerd, CRI-O,
//! podman and Kubernetes write, and the path up to the matching segment is the
//! container's cgroup. Parsing is pure over the texts, so it is tested on recorded paths.

use std::collections::BTreeMap;
use std::fs;

use super::TargetError;
use crate::runlog::CgroupTarget;
use crate::sample::cgroup::{CgroupMount, parse_proc_cgroup};
use crate::sample::cgroup_stats::{self, CgroupDirs, CgroupFiles, CgroupVersion};
use crate::sample::{ProcInfo, ProcessTable};

/// Length of a full container ID (Docker, containerd, CRI-O and podman all use 64 hex).
const CONTAINER_ID_LEN: usize = 64;

/// Runtime prefixes of a systemd scope named after a container (`docker-ID.scope`).
const SCOPE_PREFIXES: [&str; 6] = [
    "docker-",
    "cri-containerd-",
    "crio-",
    "libpod-",
    "containerd-",
    "podman-",
];

/// What a cgroup path segment names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    /// A container, by its 64-hex ID.
    Container(String),
    /// A Kubernetes pod, by its UID (dashes, as `kubectl get pod -o yaml` shows it).
    Pod(String),
}

/// The container or pod a path segment names: `ID`, `docker-ID.scope`,
/// `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`; `podUID`,
/// `kubepods-besteffort-podUID.slice` (the UID's dashes written as underscores).
/// Conmon's own scope (`libpod-conmon-ID.scope`) holds the monitor, not the container.
pub fn segment_names(segment: &str) -> Option<Named> {
    let bare = segment.strip_suffix(".scope").unwrap_or(segment);
    let bare = SCOPE_PREFIXES
        .iter()
        .find_map(|p| bare.strip_prefix(p))
        .unwrap_or(bare);
    if bare.len() == CONTAINER_ID_LEN && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(Named::Container(bare.to_ascii_lowercase()));
    }
    let slice = segment.strip_suffix(".slice").unwrap_or(segment);
    let pod = slice.rsplit_once("-pod").map_or_else(
        || slice.strip_prefix("pod"),
        |(kubepods, uid)| kubepods.starts_with("kubepods").then_some(uid),
    )?;
    let uid = pod.replace('_', "-").to_ascii_lowercase();
    let is_uid = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    is_uid.then_some(Named::Pod(uid))
}

/// Every container and pod a cgroup path names, each with the path up to its segment
/// (`/kubepods/burstable/podUID/ID` names the pod at `/kubepods/burstable/podUID` and the
/// container at the whole path).
pub fn named_in_path(path: &str) -> Vec<(Named, String)> {
    let mut found = Vec::new();
    let mut prefix = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        prefix.push('/');
        prefix.push_str(segment);
        if segment.contains("conmon") {
            continue;
        }
        if let Some(named) = segment_names(segment) {
            found.push((named, prefix.clone()));
        }
    }
    found
}

/// The innermost container or pod ID a cgroup path names.
fn last_named_id(path: &str) -> Option<String> {
    named_in_path(path).pop().map(|(named, _)| match named {
        Named::Container(id) | Named::Pod(id) => id,
    })
}

/// A container (or pod) `--container` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundContainer {
    /// The full ID (or pod UID).
    pub id: String,
    /// Its cgroup path, as /proc/PID/cgroup shows it.
    pub cgroup_path: String,
    pub is_pod: bool,
}

/// Normalise what the user typed: hex for a container ID (or its prefix), a pod UID with
/// dashes (underscores accepted, as systemd writes them).
fn normalise_query(query: &str) -> Result<String, TargetError> {
    let q = query.trim().to_ascii_lowercase().replace('_', "-");
    let hex_or_dash = !q.is_empty() && q.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !hex_or_dash {
        return Err(TargetError::NotAContainerId(query.to_owned()));
    }
    Ok(q)
}

/// Find the container or pod whose ID (or UID) starts with `query`, from the
/// `/proc/PID/cgroup` texts of the host's processes. Several IDs with that prefix are
/// ambiguous; none is "no such container".
pub fn find_container(
    query: &str,
    proc_cgroups: &[(u32, String)],
) -> Result<FoundContainer, TargetError> {
    let q = normalise_query(query)?;
    // ID → (path, is_pod); the v1 memory or v2 entry gives the path, and every controller
    // of one container shows the same path on the runtimes seen.
    let mut matches: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (_, text) in proc_cgroups {
        for entry in parse_proc_cgroup(text) {
            for (named, path) in named_in_path(&entry.path) {
                let (id, is_pod) = match named {
                    Named::Container(id) => (id, false),
                    Named::Pod(uid) => (uid, true),
                };
                if id.starts_with(&q) {
                    matches.entry(id).or_insert((path, is_pod));
                }
            }
        }
    }
    match matches.len() {
        0 => Err(TargetError::NoContainer(query.to_owned())),
        1 => {
            let (id, (cgroup_path, is_pod)) = matches
                .into_iter()
                .next()
                .ok_or_else(|| TargetError::NoContainer(query.to_owned()))?;
            Ok(FoundContainer {
                id,
                cgroup_path,
                is_pod,
            })
        }
        count => Err(TargetError::AmbiguousContainer {
            query: query.to_owned(),
            count,
            list: matches
                .keys()
                .map(|id| id.chars().take(12).collect::<String>())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The `/proc/PID/cgroup` text of every process that can be read.
pub fn host_proc_cgroups() -> Vec<(u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(e.path().join("cgroup")).ok()?;
            Some((pid, text))
        })
        .collect()
}

/// A cgroup resolved as the target: where its files are, what the header says of it, and
/// the processes in it now.
#[derive(Clone, Debug)]
pub struct CgroupResolved {
    pub dirs: CgroupDirs,
    pub info: CgroupTarget,
    pub procs: Vec<ProcInfo>,
}

/// How the user named the cgroup.
#[derive(Clone, Debug)]
pub enum CgroupQuery<'a> {
    Path(&'a str),
    Container(&'a str),
}

/// The host's view a cgroup target is resolved against.
pub struct CgroupHost<'a> {
    pub mounts: &'a [CgroupMount],
    pub files: &'a dyn CgroupFiles,
    pub proc_cgroups: &'a dyn Fn() -> Vec<(u32, String)>,
}

/// Resolve `--cgroup` or `--container`: its directories, and its processes (there must be
/// at least one: an empty cgroup is almost always a wrong path).
pub fn resolve_cgroup(
    query: CgroupQuery<'_>,
    host: &CgroupHost<'_>,
    table: &mut dyn ProcessTable,
) -> Result<CgroupResolved, TargetError> {
    let (path, container_id) = match query {
        CgroupQuery::Path(path) => {
            let id = last_named_id(path);
            (path.to_owned(), id)
        }
        CgroupQuery::Container(q) => {
            let found = find_container(q, &(host.proc_cgroups)())?;
            (found.cgroup_path, Some(found.id))
        }
    };
    let dirs = CgroupDirs::from_path(&path, host.mounts)?;
    let cgroup_path = cgroup_stats::as_cgroup_path(&path, host.mounts);
    let mut procs = Vec::new();
    for pid in cgroup_stats::procs(&dirs, host.files) {
        if let Some(info) = table.get(pid)? {
            procs.push(info);
        }
    }
    if procs.is_empty() {
        return Err(TargetError::EmptyCgroup(cgroup_path));
    }
    let dir = dirs
        .main_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    Ok(CgroupResolved {
        info: CgroupTarget {
            path: cgroup_path,
            version: version_text(dirs.version).to_owned(),
            dir,
            container_id,
            is_target: true,
        },
        dirs,
        procs,
    })
}

pub fn version_text(version: CgroupVersion) -> &'static str {
    match version {
        CgroupVersion::V1 => "v1",
        CgroupVersion::V2 => "v2",
    }
}

/// The cgroup a process target lives in, read alongside it: `None` when it is the root
/// cgroup (whose counters are the whole host's) or none is found. Controllers at `/` are
/// left out for the same reason.
pub fn alongside(proc_cgroup: &str, mounts: &[CgroupMount]) -> Option<(CgroupDirs, CgroupTarget)> {
    let entries: Vec<_> = parse_proc_cgroup(proc_cgroup)
        .into_iter()
        .filter(|e| !e.path.trim_end_matches('/').is_empty())
        .collect();
    let dirs = CgroupDirs::for_entries(&entries, mounts)?;
    // The memory (or unified) entry names the cgroup; else the first one left.
    let path = entries
        .iter()
        .find(|e| e.is_v2() || e.controllers.iter().any(|c| c == "memory"))
        .or(entries.first())
        .map(|e| e.path.clone())?;
    let container_id = last_named_id(&path);
    let dir = dirs
        .main_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    Some((
        dirs.clone(),
        CgroupTarget {
            path,
            version: version_text(dirs.version).to_owned(),
            dir,
            container_id,
            is_target: false,
        },
    ))
}

/// [`resolve_cgroup`] against this host's mounts, files and processes.
pub fn resolve_on_host(
    query: CgroupQuery<'_>,
    table: &mut dyn ProcessTable,
) -> Result<CgroupResolved, TargetError> {
    let mounts = crate::sample::cgroup::host_mounts();
    let host = CgroupHost {
        mounts: &mounts,
        files: &cgroup_stats::SysFiles,
        proc_cgroups: &host_proc_cgroups,
    };
    resolve_cgroup(query, &host, table)
}

/// [`alongside`] for a process of this host (`None` when its cgroup cannot be read).
pub fn alongside_pid(pid: u32) -> Option<(CgroupDirs, CgroupTarget)> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    alongside(&text, &crate::sample::cgroup::host_mounts())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1b7e4d5a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b";

    #[test]
    fn runtimes_name_their_containers_in_the_path() {
        for segment in [
            ID.to_string(),
            format!("docker-{ID}.scope"),
            format!("cri-containerd-{ID}.scope"),
            format!("crio-{ID}.scope"),
            format!("libpod-{ID}.scope"),
        ] {
            assert_eq!(
                segment_names(&segment),
                Some(Named::Container(ID.into())),
                "{segment}"
            );
        }
        assert_eq!(segment_names("system.slice"), None);
        assert_eq!(segment_names("docker"), None);
        assert_eq!(segment_names(&ID[..63]), None, "63 hex is not an ID");
        let uid = "0d5c2f43-7d8b-4a0e-9c1e-3b2a1f0e9d8c";
        assert_eq!(
            segment_names(&format!("pod{uid}")),
            Some(Named::Pod(uid.into()))
        );
        let systemd = format!("kubepods-burstable-pod{}.slice", uid.replace('-', "_"));
        assert_eq!(segment_names(&systemd), Some(Named::Pod(uid.into())));
        assert_eq!(segment_names("kubepods-burstable.slice"), None);
    }

    #[test]
    fn a_pod_path_names_the_pod_and_its_container() {
        let uid = "0d5c2f43-7d8b-4a0e-9c1e-3b2a1f0e9d8c";
        let path = format!("/kubepods/burstable/pod{uid}/{ID}");
        let named = named_in_path(&path);
        assert_eq!(
            named,
            vec![
                (
                    Named::Pod(uid.into()),
                    format!("/kubepods/burstable/pod{uid}")
                ),
                (Named::Container(ID.into()), path.clone()),
            ]
        );
        let conmon = format!("/machine.slice/libpod-conmon-{ID}.scope");
        assert!(
            named_in_path(&conmon).is_empty(),
            "conmon is not the container"
        );
    }

    fn procs(paths: &[&str]) -> Vec<(u32, String)> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    100 + i as u32,
                    format!("12:memory:{p}\n11:cpu,cpuacct:{p}\n0::/\n"),
                )
            })
            .collect()
    }

    #[test]
    fn a_prefix_finds_one_container_and_refuses_two() {
        let other = format!("3f2b{}", &ID[4..]);
        let table = procs(&[
            &format!("/docker/{ID}"),
            &format!("/docker/{ID}"),
            &format!("/docker/{other}"),
            "/user.slice",
        ]);
        let found = find_container("3f2a9", &table).unwrap();
        assert_eq!(found.id, ID);
        assert_eq!(found.cgroup_path, format!("/docker/{ID}"));
        assert!(!found.is_pod);
        let err = find_container("3f2", &table).unwrap_err();
        assert!(
            matches!(err, TargetError::AmbiguousContainer { count: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("3f2a9c1b7e4d"), "{err}");
        assert!(matches!(
            find_container("abc", &table),
            Err(TargetError::NoContainer(_))
        ));
        assert!(matches!(
            find_container("web-1", &table),
            Err(TargetError::NotAContainerId(_))
        ));
        assert!(
            find_container("3F2A9C", &table).is_ok(),
            "case does not matter"
        );
    }

    #[test]
    fn a_pod_is_found_by_its_uid() {
        let uid = "0d5c2f43-7d8b-4a0e-9c1e-3b2a1f0e9d8c";
        let table = procs(&[&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{ID}.scope",
            uid.replace('-', "_")
        )]);
        let pod = find_container("0d5c2f43", &table).unwrap();
        assert!(pod.is_pod);
        assert!(pod.cgroup_path.ends_with(".slice"), "{}", pod.cgroup_path);
        let container = find_container(&ID[..12], &table).unwrap();
        assert!(container.cgroup_path.ends_with(".scope"));
    }

    #[test]
    fn the_root_cgroup_is_not_read_alongside() {
        use crate::sample::cgroup::parse_mountinfo;
        let mounts = parse_mountinfo(
            "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n",
        );
        assert!(alongside("4:memory:/\n0::/\n", &mounts).is_none());
    }
}
