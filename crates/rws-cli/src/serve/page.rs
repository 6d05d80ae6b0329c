//! The plain HTTP side of `rws serve`: the chat page on `/`.

use rws::bytes::Bytes;
use rws::http::{header, Method, Request, Response, StatusCode};

/// The chat page: a small client for `/chat/<room>` on the browser's
/// WebSocket API, with no external resources.
const PAGE: &str = include_str!("page.html");

/// Answers a plain HTTP request (one that does not ask for a WebSocket):
/// the page on `GET /` (and `HEAD /`), 426 Upgrade Required on the
/// WebSocket endpoints, 404 on other paths, 405 for other methods.
pub(crate) fn answer(request: &Request<()>) -> Response<Bytes> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/" | "/index.html") => {
            (StatusCode::OK, "text/html; charset=utf-8", PAGE.into())
        }
        (&Method::GET | &Method::HEAD, path) if super::Route::of(path).is_some() => (
            StatusCode::UPGRADE_REQUIRED,
            "text/plain; charset=utf-8",
            format!(
                "{path} is a WebSocket endpoint: open it with a WebSocket client \
                 (such as `rws connect ws://HOST:PORT{path}`); the chat page is at /\n"
            ),
        ),
        (&Method::GET | &Method::HEAD, path) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!(
                "nothing at {path}: the chat page is at /, \
                 WebSocket endpoints at /echo, /chat and /chat/<room>\n"
            ),
        ),
        (method, _) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            format!("method {method} not allowed here\n"),
        ),
    };
    let length = body.len();
    // A HEAD response carries the length of the body a GET would get.
    let body = if request.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    if status == StatusCode::UPGRADE_REQUIRED {
        // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
        headers.insert(
            header::UPGRADE,
            header::HeaderValue::from_static("websocket"),
        );
    }
    if request.method() == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, length.into());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    #[test]
    fn the_page_is_on_the_root() {
        let response = answer(&request(Method::GET, "/"));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.body(), PAGE.as_bytes());
    }

    #[test]
    fn head_gets_the_length_without_the_body() {
        let response = answer(&request(Method::HEAD, "/"));
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.body().is_empty());
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            PAGE.len().to_string()
        );
    }

    #[test]
    fn websocket_endpoints_want_an_upgrade() {
        for path in ["/echo", "/chat", "/chat/rust"] {
            let response = answer(&request(Method::GET, path));
            assert_eq!(response.status(), 426, "{path}");
            assert_eq!(response.headers()[header::UPGRADE], "websocket");
            let body = String::from_utf8_lossy(response.body());
            assert!(body.contains(path), "{body}");
        }
        // Not an endpoint: a room name the chat refuses.
        assert_eq!(answer(&request(Method::GET, "/chat/a.b")).status(), 404);
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        assert_eq!(
            answer(&request(Method::GET, "/nope")).status(),
            StatusCode::NOT_FOUND
        );
        let post = answer(&request(Method::POST, "/"));
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
    }
}
