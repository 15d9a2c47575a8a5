//! Hostile file systems: FIFOs, devices, links, huge files, planted names.

use std::path::Path;

use dynlib_fs::{
    create_dirs_under, create_new, open_lock_file, read_file, read_text, write_atomic, FileKind,
    Follow, ReadError,
};

#[cfg(unix)]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn reads_regular_files_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.toml");
    std::fs::write(&p, b"x = 1\n").unwrap();
    assert_eq!(read_file(&p, 6, Follow::Yes).unwrap(), b"x = 1\n");
    match read_file(&p, 5, Follow::Yes) {
        Err(ReadError::TooLarge { size: 6, limit: 5 }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(read_file(&dir.path().join("missing"), 5, Follow::Yes)
        .unwrap_err()
        .is_not_found());
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_at_once_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("meta.json");
    mkfifo(&p);
    for follow in [Follow::Yes, Follow::No] {
        match read_file(&p, 1 << 20, follow) {
            Err(ReadError::NotRegular(FileKind::Fifo)) => {}
            other => panic!("expected a FIFO refusal, got {other:?}"),
        }
    }
    let e = read_file(&p, 1 << 20, Follow::Yes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "it is a FIFO (named pipe), not a regular file"
    );
}

#[cfg(unix)]
#[test]
fn a_link_to_dev_zero_is_refused_instead_of_read_forever() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("object.o");
    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    match read_file(&p, 1 << 30, Follow::Yes) {
        Err(ReadError::NotRegular(FileKind::CharDevice)) => {}
        other => panic!("expected a device refusal, got {other:?}"),
    }
    match read_file(&p, 1 << 30, Follow::No) {
        Err(ReadError::NotRegular(FileKind::Symlink)) => {}
        other => panic!("expected a link refusal, got {other:?}"),
    }
}

#[test]
fn a_directory_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_file(dir.path(), 1 << 20, Follow::Yes).unwrap_err();
    assert!(
        matches!(e, ReadError::NotRegular(FileKind::Directory)),
        "{e:?}"
    );
}

#[cfg(unix)]
#[test]
fn links_are_followed_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.toml");
    std::fs::write(&target, b"ok").unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_eq!(read_file(&link, 10, Follow::Yes).unwrap(), b"ok");
    assert!(matches!(
        read_file(&link, 10, Follow::No),
        Err(ReadError::NotRegular(FileKind::Symlink))
    ));
}

#[test]
fn write_atomic_replaces_and_keeps_nothing_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.json");
    write_atomic(&p, b"first").unwrap();
    write_atomic(&p, b"second").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.json"], "no temporary file is left behind");
    assert!(
        write_atomic(dir.path(), b"x").is_err(),
        "a directory is never replaced"
    );
}

#[cfg(unix)]
#[test]
fn write_atomic_replaces_a_planted_link_instead_of_writing_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let p = dir.path().join("rhs.ir");
    std::os::unix::fs::symlink(&victim, &p).unwrap();
    write_atomic(&p, b"new").unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&p).unwrap(), b"new");
    assert!(!std::fs::symlink_metadata(&p)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[cfg(unix)]
#[test]
fn write_atomic_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.csv");
    std::fs::write(&p, b"old").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&p, b"new").unwrap();
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[cfg(unix)]
#[test]
fn create_new_never_follows_a_dangling_link() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let p = dir.path().join("x.lock");
    std::os::unix::fs::symlink(&outside, &p).unwrap();
    assert!(create_new(&p).is_err());
    assert!(!outside.exists(), "nothing was created through the link");
}

#[cfg(unix)]
#[test]
fn lock_files_refuse_links_and_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let link = dir.path().join(".abc.lock");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let e = open_lock_file(&link).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(!outside.exists());
    let fifo = dir.path().join(".def.lock");
    mkfifo(&fifo);
    let e = open_lock_file(&fifo).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
    let fine = dir.path().join(".ok.lock");
    open_lock_file(&fine).unwrap();
    open_lock_file(&fine).unwrap();
}

#[cfg(unix)]
#[test]
fn create_dirs_under_refuses_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jit")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("jit").join("runners")).unwrap();
    let e = create_dirs_under(dir.path(), &["jit", "runners", "ab"]).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(std::fs::read_dir(elsewhere.path())
        .unwrap()
        .next()
        .is_none());
    let made = create_dirs_under(dir.path(), &["jit", "steppers", "cd"]).unwrap();
    assert!(made.ends_with("jit/steppers/cd") && made.is_dir());
}

#[test]
fn text_that_is_not_utf8_is_located_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, b"[model]\ntype = \"\xc3\xa9t\xff\"\n").unwrap();
    let e = read_text(&p, 1 << 20, Follow::Yes).unwrap_err();
    match e {
        ReadError::NotText {
            line: 2,
            column: 11,
            byte: 0xff,
            offset: 19,
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 2, column 11"), "{e}");
    std::fs::write(&p, "é\n".as_bytes()).unwrap();
    assert_eq!(read_text(&p, 10, Follow::Yes).unwrap(), "é\n");
}

#[test]
fn same_file_sees_through_spellings_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("m.toml");
    std::fs::write(&a, b"x").unwrap();
    assert!(dynlib_fs::same_file(&a, &dir.path().join("./m.toml")));
    let hard = dir.path().join("hard.toml");
    std::fs::hard_link(&a, &hard).unwrap();
    assert!(dynlib_fs::same_file(&a, &hard));
    assert!(!dynlib_fs::same_file(&a, &dir.path().join("missing")));
    let other = dir.path().join("o.toml");
    std::fs::write(&other, b"x").unwrap();
    assert!(!dynlib_fs::same_file(&a, &other));
}
