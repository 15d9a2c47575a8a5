//! The disk cache on its own: round trips, every kind of corruption is caught, atomic and
//! concurrent writes, locks, listing, clearing, verifying, root fallbacks.

use std::path::Path;
use std::sync::{Arc, Barrier};

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

const OBJECT: &[u8] = b"\x7fELF pretend object bytes, long enough to flip some of them";

fn stored(dir: &Path) -> (DiskCache, Key) {
    let cache = DiskCache::new(dir);
    let k = key("ab", "float64");
    cache.store(&k, &labels("rk4", "float64"), OBJECT).unwrap();
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
        Lookup::Hit(bytes) => assert_eq!(bytes, OBJECT),
        other => panic!("{other:?}"),
    }
    let listed = cache.list();
    assert_eq!(listed.len(), 1);
    let info = listed[0].1.as_ref().unwrap();
    assert_eq!(info.component, Component::Runners);
    assert_eq!(info.digest, k.digest());
    assert_eq!(info.labels, labels("rk4", "float64"));
    assert_eq!(info.size, OBJECT.len() as u64);
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

    std::fs::write(&object, &OBJECT[..10]).unwrap();
    assert_corrupt(&cache, &k, "truncated");

    let mut flipped = OBJECT.to_vec();
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
        .store(&key("x", "y"), &labels("", ""), OBJECT)
        .unwrap();
    std::fs::write(&object, OBJECT).unwrap();
    std::fs::write(&meta, "{ not json").unwrap();
    assert_corrupt(&cache, &k, "garbage meta");

    std::fs::remove_file(&meta).unwrap();
    assert_corrupt(&cache, &k, "missing meta");

    // Another format version, or another key's metadata, is foreign.
    let good = DiskCache::new(dir.path().join("other"));
    good.store(&k, &labels("rk4", "float64"), OBJECT).unwrap();
    let text = std::fs::read_to_string(good.entry_dir(&k).join("meta.json")).unwrap();
    std::fs::write(&meta, text.replace("\"format\": 1", "\"format\": 99")).unwrap();
    assert_corrupt(&cache, &k, "foreign format");
    let other = key("zz", "float64");
    std::fs::write(&meta, text.replace(k.digest(), other.digest())).unwrap();
    assert_corrupt(&cache, &k, "another key's metadata");

    // Removing it makes a miss; storing again makes a hit.
    cache.remove(&k).unwrap();
    assert!(matches!(cache.load(&k), Lookup::Miss));
    cache.store(&k, &labels("rk4", "float64"), OBJECT).unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(_)));
}

#[test]
fn store_keeps_an_existing_entry_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    cache
        .store(&k, &labels("rk4", "float64"), b"other bytes")
        .unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(b) if b == OBJECT));
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
                cache.store(k, &labels("rk4", "float64"), OBJECT).unwrap();
                assert!(matches!(cache.load(k), Lookup::Hit(b) if b == OBJECT));
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
        cache.store(&key(ir, dt), &labels(st, dt), OBJECT).unwrap();
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
    assert_eq!(cache.clear(&all, false).unwrap(), [dir.path().join("jit")]);
    assert!(cache.list().is_empty());
    assert!(dir.path().exists(), "clear --all keeps the root itself");
}

#[test]
fn verify_finds_corrupt_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, k) = stored(dir.path());
    cache
        .store(&key("fine", "float64"), &labels("rk4", "float64"), OBJECT)
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
    cache.store(&k, &labels("rk4", "float64"), OBJECT).unwrap();
    assert!(matches!(cache.load(&k), Lookup::Hit(b) if b == OBJECT));
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
