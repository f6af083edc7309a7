//! Route registration with a declared access level. Every route is added
//! through [`Routes`], which records `(method, path, access)`; a test walks
//! that table and checks each route refuses what its access level says.

use super::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, get, options, post, put};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, metrics, login, static files, the widget script.
    Public,
    /// An API bearer token (staff) or a channel token; checked per object in `app`.
    Bearer,
    /// A signed-in browser session; forms also need its CSRF token.
    Session,
    /// A website-chat visitor token, from an allowed origin.
    Visitor,
    /// A network's webhook: the delivery's signature (or, to subscribe, the
    /// verify token) is the credential.
    Signed,
}

#[derive(Clone, Debug)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: String,
    pub access: Access,
}

pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteInfo>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl Routes {
    fn add(
        mut self,
        method: &'static str,
        path: &str,
        access: Access,
        mr: MethodRouter<AppState>,
    ) -> Self {
        self.table.push(RouteInfo {
            method,
            path: path.to_string(),
            access,
        });
        self.router = self.router.route(path, mr);
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.add("GET", path, access, get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.add("POST", path, access, post(h))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.add("PUT", path, access, put(h))
    }

    pub fn options<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.add("OPTIONS", path, access, options(h))
    }

    /// Mount `other` under `prefix`.
    pub fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.table.extend(other.table.into_iter().map(|mut r| {
            r.path = format!("{prefix}{}", r.path);
            r
        }));
        self.router = self.router.nest(prefix, other.router);
        self
    }

    /// Apply a layer/fallback to this group's router.
    pub fn map(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn finish(self) -> (Router<AppState>, Vec<RouteInfo>) {
        (self.router, self.table)
    }
}
