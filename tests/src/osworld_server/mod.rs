//! A local stand-in for OSWorld's VM server (`desktop_env/server/main.py`): the same
//! endpoints, request bodies, status codes and error shapes, backed by a simulated
//! Ubuntu desktop — a fake file system, a shell with a table of commands, a pyautogui
//! interpreter for action code, a terminal and a text editor whose accessibility tree is
//! rendered in OSWorld's XML shape — and a record of every request.
//!
//! It is not OSWorld: nothing runs for real. It answers the way the Flask server
//! answers, so the osworld adapter can be tested end to end without a VM.
//!
//! One file per part: `records` (what was asked and answered), `fs` (the file system),
//! `desktop` (apps, windows, the accessibility tree), `vm` (the machine's state and its
//! command dispatch), `programs` (one function per shell program), `shell` (command-line tokens), `python` (the pyautogui subset),
//! `form` (request bodies), `routes` (each endpoint's answer), `server` (the HTTP
//! thread and the revert controller).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// The simulated user's home directory.
pub const HOME: &str = "/home/user";
/// The simulated screen.
pub const SCREEN_W: i64 = 1920;
/// The simulated screen height.
pub const SCREEN_H: i64 = 1080;
const PROMPT: &str = "user@ubuntu:~$ ";

const NS: &[(&str, &str)] = &[
    ("st", "https://accessibility.ubuntu.example.org/ns/state"),
    (
        "attr",
        "https://accessibility.ubuntu.example.org/ns/attributes",
    ),
    (
        "cp",
        "https://accessibility.ubuntu.example.org/ns/component",
    ),
    (
        "doc",
        "https://accessibility.ubuntu.example.org/ns/document",
    ),
    (
        "docattr",
        "https://accessibility.ubuntu.example.org/ns/document/attributes",
    ),
    ("txt", "https://accessibility.ubuntu.example.org/ns/text"),
    ("val", "https://accessibility.ubuntu.example.org/ns/value"),
    ("act", "https://accessibility.ubuntu.example.org/ns/action"),
];

mod desktop;
mod form;
mod fs;
mod programs;
mod python;
mod records;
mod routes;
mod server;
mod shell;
mod vm;

pub use desktop::*;
pub use form::*;
pub use fs::*;
use python::*;
pub use records::*;
use routes::*;
pub use server::*;
use shell::*;
pub use vm::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_runs_fixture_commands() {
        let mut vm = Vm::standard();
        let o = vm.shell("mkdir -p ~/Desktop/a && printf '#!/bin/sh\\necho hi\\n' > ~/Desktop/a/s.sh && chmod 644 ~/Desktop/a/s.sh");
        assert_eq!(o.code, 0, "{o:?}");
        assert_eq!(
            vm.fs.read_text("/home/user/Desktop/a/s.sh").unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        let o =
            vm.shell("test -x /home/user/Desktop/a/s.sh && echo executable || echo not-executable");
        assert_eq!(o.stdout, "not-executable\n");
        vm.shell("chmod +x ~/Desktop/a/s.sh");
        let o =
            vm.shell("test -x /home/user/Desktop/a/s.sh && echo executable || echo not-executable");
        assert_eq!(o.stdout, "executable\n");
        assert_eq!(vm.shell("whoami > ~/w.txt; cat ~/w.txt").stdout, "user\n");
        assert_eq!(vm.shell("echo \"a b\" 'c  d' | grep -c b").stdout, "1\n");
        assert_eq!(vm.shell("which spotify").code, 1);
        assert_eq!(vm.shell("nosuch").code, 127);
        assert_eq!(
            vm.shell("ls ~/Desktop/a/*.sh").stdout,
            "/home/user/Desktop/a/s.sh\n"
        );
        assert_eq!(vm.shell("rm ~/nope").code, 1);
        assert_eq!(vm.shell("rm -f ~/nope").code, 0);
        assert_eq!(
            vm.shell("echo x >> ~/w.txt && cat ~/w.txt").stdout,
            "user\nx\n"
        );
    }

    #[test]
    fn pyautogui_code_drives_the_terminal() {
        let mut vm = Vm::standard();
        let o = vm.python("import pyautogui; import time; pyautogui.FAILSAFE = False; pyautogui.click(400, 300); pyautogui.typewrite('echo hi > ~/x.txt'); pyautogui.press('enter')");
        assert_eq!(o.code, 0, "{o:?}");
        assert_eq!(vm.fs.read_text("/home/user/x.txt").unwrap(), "hi\n");
        assert!(vm.terminal_output().unwrap().contains("echo hi > ~/x.txt"));
        let o = vm.python("pyautogui.clack(1, 2)");
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("AttributeError"));
        let o = vm.python("pyautogui.typewrite('it\\'s \"ok\"')");
        assert_eq!(o.code, 0);
        assert!(vm.terminal_output().unwrap().ends_with("it's \"ok\""));
    }

    #[test]
    fn the_tree_is_osworld_shaped() {
        let vm = Vm::standard();
        let xml = vm.accessibility_xml();
        assert!(xml.starts_with(
            "<desktop-frame xmlns:st=\"https://accessibility.ubuntu.example.org/ns/state\""
        ));
        assert!(xml.contains("<terminal name=\"Terminal\""));
        assert!(xml.contains("cp:screencoord=\"(70, 120)\" cp:size=\"(900, 600)\""));
        let png = vm.screenshot_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() < 200_000, "{}", png.len());
    }

    #[test]
    fn forms_parse() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n/tmp/a\r\n--xyz\r\nContent-Disposition: form-data; name=\"file_data\"; filename=\"a\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--xyz--\r\n";
        let f = parse_form(Some("multipart/form-data; boundary=xyz"), body);
        assert_eq!(
            f,
            vec![
                ("file_path".into(), b"/tmp/a".to_vec()),
                ("file_data".into(), b"hello".to_vec())
            ]
        );
        let f = parse_form(
            Some("application/x-www-form-urlencoded"),
            b"file_path=%2Fhome%2Fuser%2Fa%20b.txt&x=1+2",
        );
        assert_eq!(f[0].1, b"/home/user/a b.txt");
        assert_eq!(f[1].1, b"1 2");
    }
}
