//! The limits of a network grant, with a real adapter (androidworld) as the client and
//! raw TCP servers that misbehave: a server that never answers is cut off at the
//! grant's per-request timeout, and a response body over the grant's size cap fails
//! the request (whether its length is declared up front or streamed in chunks).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use steprl_sandbox::{Grants, LoadError, PluginOptions, WasmEnvironment};
use steprl_tests::{load, sandbox};

/// A server on 127.0.0.1 that hands every connection to `serve` on its own thread.
fn server(serve: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

/// Read one request's head (the adapter's requests here carry no body).
fn read_head(conn: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
    }
}

/// Load the androidworld adapter against `addr` with `grants`; `init` asks `/health`.
async fn load_against(addr: &str, grants: Grants) -> Result<WasmEnvironment, LoadError> {
    let sb = sandbox();
    WasmEnvironment::new(
        &sb,
        &load(&sb, "androidworld"),
        PluginOptions {
            config_json: format!(r#"{{"server_url": "http://{addr}"}}"#),
            grants: Grants {
                http: vec![addr.to_owned()],
                ..grants
            },
            ..PluginOptions::default()
        },
    )
    .await
}

fn error_of(r: Result<WasmEnvironment, LoadError>) -> String {
    match r {
        Ok(_) => panic!("the adapter loaded"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_off_at_the_grants_timeout() {
    let addr = server(|mut conn| {
        read_head(&mut conn);
        // Hold the connection open without a word.
        std::thread::sleep(Duration::from_secs(120));
    });
    let e = error_of(
        load_against(
            &addr,
            Grants {
                http_timeout: Duration::from_millis(300),
                ..Grants::default()
            },
        )
        .await,
    );
    assert!(
        e.contains("GET http://") && e.contains("/health") && e.contains("timed out"),
        "{e}"
    );
}

const BIG: usize = 2 * 1024 * 1024;

fn big_body() -> Vec<u8> {
    let mut body = br#"{"status": "success", "pad": ""#.to_vec();
    body.resize(BIG, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

fn declared(mut conn: TcpStream) {
    read_head(&mut conn);
    let body = big_body();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

fn chunked(mut conn: TcpStream) {
    read_head(&mut conn);
    let _ = conn.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    for chunk in big_body().chunks(64 * 1024) {
        let _ = conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = conn.write_all(chunk);
        let _ = conn.write_all(b"\r\n");
    }
    let _ = conn.write_all(b"0\r\n\r\n");
}

#[tokio::test]
async fn a_response_over_the_size_cap_fails_the_request() {
    for serve in [declared as fn(TcpStream), chunked] {
        let addr = server(serve);
        let capped = error_of(
            load_against(
                &addr,
                Grants {
                    http_max_response_bytes: 1024 * 1024,
                    ..Grants::default()
                },
            )
            .await,
        );
        assert!(
            capped.contains("/health") && capped.contains("larger than the host's cap"),
            "{capped}"
        );
        // Under a larger cap the same answer arrives whole: whatever fails next, it is
        // not the cap.
        let uncapped = load_against(
            &addr,
            Grants {
                http_max_response_bytes: 4 * 1024 * 1024,
                ..Grants::default()
            },
        )
        .await;
        if let Err(e) = uncapped {
            let e = e.to_string();
            assert!(!e.contains("cap"), "{e}");
        }
    }
}
