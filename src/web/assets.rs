//! Static assets embedded in the binary from `web/`: the widget, the inbox
//! stylesheet and script, vendored htmx.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
#[exclude = "preview.html"]
#[exclude = "*.md"]
pub struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Serve one embedded file.
pub fn serve(path: &str, max_age: u32) -> Response {
    match Assets::get(path) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(path).to_string()),
                (header::CACHE_CONTROL, format!("public, max-age={max_age}")),
            ],
            f.data.into_owned(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /static/{*path}`.
pub async fn static_file(Path(path): Path<String>) -> Response {
    serve(&path, 3600)
}
