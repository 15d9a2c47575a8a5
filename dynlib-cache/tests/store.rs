//! The disk cache on its own: round trips, every kind of corruption is caught, atomic and
//! concurrent writes, locks, listing, clearing, verifying, root fallbacks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use dynlib_cache::{Component, DiskCache, Key, Labels, Lookup, Selector};

fn key(ir: &str, dtype: &str) -> Key {
    Key::new(
        Component::Runners,
        [("ir", ir), ("dtype", dtype), ("unit", "runner")],
    )
}

fn labels(stepper: &str, dtype: &str) -> Labels {
    Labels {
        model: "Lorenz".into(),
        stepper: stepper.into(),
        dtype: dtype.into(),
        variant: "base".into(),
    }
}

/// Pretend object bytes, carrying `k`'s tag as every compiled object does.
fn tagged(k: &Key) -> Vec<u8> {
    let mut bytes = b"\x7fELF pretend object bytes, long enough to flip some of them ".to_vec();
    bytes.extend(dynlib_cache::key_tag(k.digest()).bytes());
    bytes
}

fn stored(dir: &Path) -> (DiskCache, Key) {
    let cache = DiskCache::new(dir);
    let k = key("ab", "float64");
    cache
        .store(&k, &labels("rk4", "float64"), &tagged(&k))
        .unwrap();
    (cache, k)
}

fn assert_corrupt(cache: &DiskCache, k: &Key, what: &str) {
    match cache.load(k) {
        Lookup::Corrupt(reason) => assert!(!reason.is_empty()),
        other => panic!("{what}: expected a corrupt entry, got {other:?}"),
    }
}

#[test]
fn round_trip_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    match cache.load(&k) {
        Lookup::Hit(bytes) => assert_eq!(bytes, tagged(&k)),
        other => panic!("{other:?}"),
    }
    let listed = cache.list();
    assert_eq!(listed.len(), 1);
    let info = listed[0].1.as_ref().unwrap();
    assert_eq!(info.component, Component::Runners);
    assert_eq!(info.digest, k.digest());
    assert_eq!(info.labels, labels("rk4", "float64"));
    assert_eq!(info.size, tagged(&k).len() as u64);
    assert!(info
        .inputs
        .contains(&("dtype".to_string(), "float64".to_string())));
    let meta = std::fs::read_to_string(cache.entry_dir(&k).join("meta.json")).unwrap();
    assert!(meta.contains("\"checksum\""), "{meta}");
    // Layout: <root>/jit/runners/<dd>/<digest>/
    assert_eq!(
        cache.entry_dir(&k),
        dir.path()
            .join("jit/runners")
            .join(&k.digest()[..2])
            .join(k.digest())
    );
    assert!(matches!(cache.load(&key("other", "float64")), Lookup::Miss));
}

#[test]
fn truncated_flipped_garbage_and_foreign_entries_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let object = cache.entry_dir(&k).join("object.o");
    let meta = cache.entry_dir(&k).join("meta.json");

    std::fs::write(&object, &tagged(&k)[..10]).unwrap();
    assert_corrupt(&cache, &k, "truncated");

    let mut flipped = tagged(&k);
    flipped[20] ^= 0x40;
    std::fs::write(&object, &flipped).unwrap();
    assert_corrupt(&cache, &k, "flipped byte");

    std::fs::write(
        &object,
        b"garbage garbage garbage garbage garbage garbage garbage!",
    )
    .unwrap();
    assert_corrupt(&cache, &k, "garbage object");

    cache
        .store(&key("x", "y"), &labels("", ""), &tagged(&key("x", "y")))
        .unwrap();
    std::fs::write(&object, tagged(&k)).unwrap();
    std::fs::write(&meta, "{ not json").unwrap();
    assert_corrupt(&cache, &k, "garbage meta");

    std::fs::remove_file(&meta).unwrap();
    assert_corrupt(&cache, &k, "missing meta");

    // Another format version, or another key's metadata, is foreign.
    let good = DiskCache::new(dir.path().join("other"));
    good.store(&k, &labels("rk4", "float64"), &tagged(&k))
        .unwrap();
    let text = std::fs::read_to_string(good.entry_dir(&k).join("meta.json")).unwrap();
    std::fs::write(&meta, text.replace("\"format\": 1", "\"format\": 99")).unwrap();
    assert_corrupt(&cache, &k, "foreign format");
    let other = key("zz", "float64");
    std::fs::write(&meta, text.replace(k.digest(), other.digest())).unwrap();
    assert_corrupt(&cache, &k, "another key's metadata");

    // Removing it makes a miss; storing again makes a hit.
    cache.remove(&k).unwrap();
    assert!(matches!(cache.load(&k), Lookup::Miss));
    cache
        .store(&k, &labels("rk4", "float64"), &tagged(&k))
        .unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(_)));
}

#[test]
fn store_keeps_an_existing_entry_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    cache
        .store(&k, &labels("rk4", "float64"), b"other bytes")
        .unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(b) if b == tagged(&k)));
    let shard = cache.entry_dir(&k).parent().unwrap().to_path_buf();
    let names: Vec<String> = std::fs::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [k.digest().to_string()], "only the entry remains");
}

#[test]
fn racing_writers_leave_one_valid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let k = key("race", "float64");
    let barrier = Arc::new(Barrier::new(8));
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (cache, k, barrier) = (&cache, &k, barrier.clone());
            s.spawn(move || {
                barrier.wait();
                cache
                    .store(k, &labels("rk4", "float64"), &tagged(k))
                    .unwrap();
                assert!(matches!(cache.load(k), Lookup::Hit(b) if b == tagged(k)));
            });
        }
    });
    let all = cache.verify();
    assert_eq!(all.len(), 1);
    assert!(all[0].1.is_ok());
}

#[test]
fn the_lock_is_exclusive_and_released_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let k = key("lock", "float64");
    let inside = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let _lock = cache.lock(&k).unwrap();
                    let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    assert_eq!(now, 0, "two holders at once");
                    std::thread::yield_now();
                    inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    // A lock file left behind holds no lock: the next taker gets it at once.
    let lock = cache.lock(&k).unwrap();
    drop(lock);
    let _again = cache.lock(&k).unwrap();
}

#[test]
fn clear_by_selector_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let entries = [
        ("a", "rk4", "float64"),
        ("b", "rk4", "float32"),
        ("c", "euler", "float64"),
    ];
    for (ir, st, dt) in entries {
        cache
            .store(&key(ir, dt), &labels(st, dt), &tagged(&key(ir, dt)))
            .unwrap();
    }
    let sel = |stepper: Option<&str>, dtype: Option<&str>| Selector {
        stepper: stepper.map(str::to_string),
        dtype: dtype.map(str::to_string),
        ..Default::default()
    };
    assert!(Selector::default().is_empty());
    let would = cache.clear(&sel(Some("rk4"), None), true).unwrap();
    assert_eq!(would.len(), 2);
    assert_eq!(cache.list().len(), 3, "a dry run deletes nothing");
    let gone = cache
        .clear(&sel(Some("rk4"), Some("float32")), false)
        .unwrap();
    assert_eq!(gone, [cache.entry_dir(&key("b", "float32"))]);
    assert_eq!(cache.list().len(), 2);
    // Nothing is older than a day yet.
    let old = Selector {
        older_than_days: Some(1.0),
        ..Default::default()
    };
    assert!(cache.clear(&old, false).unwrap().is_empty());
    let young = Selector {
        older_than_days: Some(0.0),
        ..Default::default()
    };
    // Created this second: not older than 0 days unless a second has passed; either way
    // the selector is honoured without error.
    let _ = cache.clear(&young, true).unwrap();
    let all = Selector {
        all: true,
        ..Default::default()
    };
    let mut before: Vec<PathBuf> = cache.list().into_iter().map(|(p, _)| p).collect();
    before.sort();
    let mut gone = cache.clear(&all, false).unwrap();
    gone.sort();
    assert_eq!(gone, before, "clear --all names the entries it deleted");
    assert!(cache.list().is_empty());
    assert!(dir.path().exists(), "clear --all keeps the root itself");
}

#[test]
fn verify_finds_corrupt_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    cache
        .store(
            &key("fine", "float64"),
            &labels("rk4", "float64"),
            &tagged(&key("fine", "float64")),
        )
        .unwrap();
    std::fs::write(cache.entry_dir(&k).join("object.o"), b"short").unwrap();
    let v = cache.verify();
    assert_eq!(v.len(), 2);
    assert_eq!(v.iter().filter(|(_, r)| r.is_err()).count(), 1);
    // Listing reads only metadata: both are listed.
    assert!(cache.list().iter().all(|(_, r)| r.is_ok()));
}

#[test]
fn an_unusable_root_is_reported_by_the_probe() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(dynlib_cache::root::probe(&file).is_err());
    assert!(dynlib_cache::root::probe(dir.path()).is_ok());
    assert_eq!(
        dynlib_cache::root::primary_root(Some(&file)),
        Some(file.clone())
    );
}

/// Run by `a_lock_left_by_a_dead_process_stalls_nobody` in a child process: takes the lock
/// named by `DYNLIB_TEST_LOCK_ROOT` and never lets go. In the ordinary suite the variable
/// is unset and it returns at once.
#[test]
fn lock_holder_helper() {
    let Ok(root) = std::env::var("DYNLIB_TEST_LOCK_ROOT") else {
        return;
    };
    let cache = DiskCache::new(root);
    let _lock = cache.lock(&key("dead", "float64")).unwrap();
    println!("locked");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn a_lock_left_by_a_dead_process_stalls_nobody() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder_helper", "--nocapture"])
        .env("DYNLIB_TEST_LOCK_ROOT", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.map(|l| l.contains("locked")).unwrap_or(false)),
        "the helper took the lock"
    );
    let cache = DiskCache::new(dir.path());
    let k = key("dead", "float64");
    // While the holder lives, the lock is taken.
    let lock_file = cache
        .entry_dir(&k)
        .with_file_name(format!(".{}.lock", k.digest()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_file)
        .unwrap();
    assert!(f.try_lock().is_err(), "the helper holds the lock");
    drop(f);
    // It dies without releasing anything; its lock file stays behind.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lock_file.exists());
    // The OS released the dead holder's lock: a non-blocking attempt succeeds.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_file)
        .unwrap();
    assert!(
        f.try_lock().is_ok(),
        "the lock of a dead process is free at once"
    );
    drop(f);
    let _lock = cache.lock(&k).unwrap();
}

#[test]
fn store_replaces_an_entry_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    std::fs::write(cache.entry_dir(&k).join("object.o"), b"torn").unwrap();
    cache
        .store(&k, &labels("rk4", "float64"), &tagged(&k))
        .unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(b) if b == tagged(&k)));
}

#[test]
fn remove_if_corrupt_keeps_valid_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let entry = cache.entry_dir(&k);
    assert!(!cache.remove_if_corrupt(&entry).unwrap());
    assert!(entry.exists());
    std::fs::write(entry.join("object.o"), b"torn").unwrap();
    assert!(cache.remove_if_corrupt(&entry).unwrap());
    assert!(!entry.exists());
}

#[test]
fn leftovers_of_dead_writers_are_found_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let shard = cache.entry_dir(&k).parent().unwrap().to_path_buf();
    let tmp = shard.join(format!(".{}.tmp-1-2-3", k.digest()));
    let tomb = shard.join(format!("{}.corrupt-4-5-6", k.digest()));
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&tomb).unwrap();
    let mut found = cache.debris(0);
    found.sort();
    let mut want = vec![tmp.clone(), tomb.clone()];
    want.sort();
    assert_eq!(found, want);
    assert!(
        cache.debris(3600).is_empty(),
        "fresh leftovers may belong to a live writer"
    );
    assert_eq!(cache.list().len(), 1, "leftovers are not entries");
    cache.remove_debris(0).unwrap();
    assert!(!tmp.exists() && !tomb.exists());
    assert!(matches!(cache.load(&k), Lookup::Hit(_)));
}

#[cfg(unix)]
#[test]
fn the_fallback_root_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = dynlib_cache::root::private_dir(&shared).unwrap_err();
    assert!(err.to_string().contains("writable by other users"), "{err}");
    let fresh = dir.path().join("fresh");
    dynlib_cache::root::private_dir(&fresh).unwrap();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

// --- Hostile roots (issue 8, items 1-4 and 8) ---

#[cfg(unix)]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A pretend home directory full of things that must survive: folders named like entries,
/// with a `meta.json` that matches every selector.
fn precious_home(home: &Path, like: &Key) -> Vec<PathBuf> {
    let mut kept = Vec::new();
    for name in ["Documents", like.digest(), "zz"] {
        let d = home.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("meta.json"),
            r#"{"stepper": "rk4", "dtype": "float64"}"#,
        )
        .unwrap();
        std::fs::write(d.join("thesis.tex"), b"years of work").unwrap();
        kept.push(d.join("thesis.tex"));
    }
    kept
}

#[cfg(unix)]
#[test]
fn walks_never_follow_links_out_of_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let kept = precious_home(home.path(), &k);
    let runners = dir.path().join("jit/runners");
    // A shard, an entry and a component that are links to the home directory.
    std::os::unix::fs::symlink(home.path(), runners.join("zz")).unwrap();
    let shard = cache.entry_dir(&k).parent().unwrap().to_path_buf();
    let fake = format!("{}{}", &k.digest()[..2], "f".repeat(62));
    std::os::unix::fs::symlink(home.path(), shard.join(&fake)).unwrap();
    std::fs::create_dir_all(dir.path().join("jit")).unwrap();
    std::os::unix::fs::symlink(home.path(), dir.path().join("jit/steppers")).unwrap();

    let v = cache.verify();
    assert_eq!(v.len(), 1, "only the real entry is an entry: {v:?}");
    for (path, r) in &v {
        if r.is_err() {
            cache.remove_if_corrupt(path).unwrap();
        }
    }
    cache.remove_debris(0).unwrap();
    let by_stepper = Selector {
        stepper: Some("rk4".into()),
        ..Default::default()
    };
    let gone = cache.clear(&by_stepper, false).unwrap();
    assert_eq!(gone, [cache.entry_dir(&k)]);
    let all = Selector {
        all: true,
        ..Default::default()
    };
    cache.clear(&all, false).unwrap();
    for f in kept {
        assert_eq!(
            std::fs::read(&f).unwrap(),
            b"years of work",
            "{}",
            f.display()
        );
    }
    // A link passed in directly is refused too.
    assert!(cache.remove_if_corrupt(&shard.join(&fake)).is_err());
    assert!(home.path().join(k.digest()).join("thesis.tex").exists());
}

#[test]
fn clear_all_removes_entries_only_never_other_files_under_jit() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let jit = dir.path().join("jit");
    let shard = cache.entry_dir(&k).parent().unwrap().to_path_buf();
    let mine = [
        jit.join("notes.txt"),
        jit.join("runners/README"),
        shard.join("keep-me.txt"),
        jit.join("runners/mystuff/data.bin"),
        jit.join("other-folder/x"),
    ];
    for f in &mine {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, b"mine").unwrap();
    }
    let debris = shard.join(format!(".{}.tmp-1-2-3", k.digest()));
    std::fs::create_dir(&debris).unwrap();
    let all = Selector {
        all: true,
        ..Default::default()
    };
    // A dry run lists the entries and deletes nothing.
    assert_eq!(cache.clear(&all, true).unwrap(), [cache.entry_dir(&k)]);
    assert!(matches!(cache.load(&k), Lookup::Hit(_)));
    assert_eq!(cache.clear(&all, false).unwrap(), [cache.entry_dir(&k)]);
    assert!(matches!(cache.load(&k), Lookup::Miss));
    assert!(!debris.exists(), "leftovers of dead writers go too");
    for f in &mine {
        assert_eq!(std::fs::read(f).unwrap(), b"mine", "{}", f.display());
    }
    // Empty component and shard folders are tidied away; folders with user files stay.
    assert!(!jit.join("steppers").exists());
    assert!(shard.exists());
}

#[cfg(unix)]
#[test]
fn a_planted_lock_link_creates_nothing_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let k = key("planted", "float64");
    let shard = dir.path().join("jit/runners").join(&k.digest()[..2]);
    std::fs::create_dir_all(&shard).unwrap();
    let target = outside.path().join("created-by-dynlib");
    std::os::unix::fs::symlink(&target, shard.join(format!(".{}.lock", k.digest()))).unwrap();
    let e = cache.lock(&k).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(!target.exists(), "nothing was created through the link");
    // A shard that is a link is refused for writing as well.
    let k2 = key("planted-shard", "float64");
    let shard2 = dir.path().join("jit/runners").join(&k2.digest()[..2]);
    if !shard2.exists() {
        std::os::unix::fs::symlink(outside.path(), &shard2).unwrap();
        assert!(cache
            .store(&k2, &labels("rk4", "float64"), &tagged(&k2))
            .is_err());
        assert!(cache.lock(&k2).is_err());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_in_an_entry_are_corrupt_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let entry = cache.entry_dir(&k);
    let started = Instant::now();
    std::fs::remove_file(entry.join("object.o")).unwrap();
    mkfifo(&entry.join("object.o"));
    assert_corrupt(&cache, &k, "a FIFO as object.o");
    std::fs::remove_file(entry.join("object.o")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", entry.join("object.o")).unwrap();
    assert_corrupt(&cache, &k, "/dev/zero as object.o");
    std::fs::remove_file(entry.join("object.o")).unwrap();
    std::fs::write(entry.join("object.o"), tagged(&k)).unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(_)));
    std::fs::remove_file(entry.join("meta.json")).unwrap();
    mkfifo(&entry.join("meta.json"));
    assert_corrupt(&cache, &k, "a FIFO as meta.json");
    assert!(cache.list()[0].1.is_err(), "listing does not hang either");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "nothing waited on a FIFO"
    );
}

#[test]
fn an_object_swapped_in_from_another_key_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let (a, b) = (key("model-a", "float64"), key("model-b", "float64"));
    cache
        .store(&a, &labels("rk4", "float64"), &tagged(&a))
        .unwrap();
    cache
        .store(&b, &labels("rk4", "float64"), &tagged(&b))
        .unwrap();
    // Copy b's object over a's, and fix a's size and checksum to match.
    let foreign = tagged(&b);
    let entry = cache.entry_dir(&a);
    std::fs::write(entry.join("object.o"), &foreign).unwrap();
    let meta = std::fs::read_to_string(entry.join("meta.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&meta).unwrap();
    m["size"] = foreign.len().into();
    m["checksum"] = dynlib_cache::checksum(&foreign).into();
    std::fs::write(entry.join("meta.json"), m.to_string()).unwrap();
    match cache.load(&a) {
        Lookup::Corrupt(why) => assert!(why.contains("another key"), "{why}"),
        other => panic!("expected corrupt, got {other:?}"),
    }
    let v = cache.verify();
    assert_eq!(
        v.iter().filter(|(_, r)| r.is_err()).count(),
        1,
        "verify sees it too"
    );
}

#[test]
fn the_lock_wait_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path()).with_lock_wait(Duration::from_millis(200));
    let k = key("stopped-holder", "float64");
    let held = cache.lock(&k).unwrap();
    let started = Instant::now();
    let e = cache.lock(&k).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(held);
    let _free = cache.lock(&k).unwrap();
}

#[test]
fn a_read_only_cache_serves_and_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    let ro = DiskCache::new(dir.path()).read_only(true);
    assert!(matches!(ro.load(&k), Lookup::Hit(_)));
    let other = key("absent", "float64");
    assert!(ro
        .store(&other, &labels("rk4", "float64"), &tagged(&other))
        .is_err());
    assert!(ro.lock(&other).is_err());
    assert!(!cache.entry_dir(&other).exists());
    assert_eq!(cache.list().len(), 1);
    assert!(
        cache.debris(0).is_empty(),
        "not even a temporary directory was made"
    );
}

#[test]
fn a_probe_racing_a_clear_retries_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(root.join("jit"));
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let failures: Vec<String> = (0..300)
            .filter_map(|_| dynlib_cache::root::probe(&root).err())
            .map(|e| e.to_string())
            .collect();
        // Stop the deleter before asserting, so a failure cannot hang the scope.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:?}");
    });
}
