//! `CurrentContext`: per-task envelope values, as upstream's task-local.
//! `scope` wraps a future so the context is in place while it is polled
//! (on whatever thread polls it); `scope_blocking` for synchronous code.
//! Standard library only: a thread-local stack, no runtime.

use crate::event::{RepoOrigin, SessionMode, Uuid};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Envelope values of one scope; `None` falls back to the process's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentContext {
    pub turn: Option<u64>,
    pub round: Option<u32>,
    pub request: Option<u64>,
    pub provider: Option<String>,
    pub provider_host: Option<String>,
    pub model: Option<String>,
    pub repo_origin: Option<RepoOrigin>,
    pub mode: Option<SessionMode>,
    pub session_id: Option<Uuid>,
    pub surface: Option<String>,
}

thread_local! {
    static CTX: RefCell<Vec<CurrentContext>> = RefCell::new(Vec::new());
}

/// Pops the context on drop, also when the scoped code panics.
struct Pop;

impl Drop for Pop {
    fn drop(&mut self) {
        CTX.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

fn push(ctx: CurrentContext) -> Pop {
    CTX.with(|c| c.borrow_mut().push(ctx));
    Pop
}

/// A future that runs its inner future inside a context.
pub struct Scoped<F: Future> {
    ctx: CurrentContext,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let ctx = self.ctx.clone();
        let _pop = push(ctx);
        self.fut.as_mut().poll(cx)
    }
}

impl CurrentContext {
    /// Run `fut()` with `ctx` as the current context.
    pub async fn scope<F, Fut, R>(ctx: CurrentContext, fut: F) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        Scoped {
            ctx,
            fut: Box::pin(fut()),
        }
        .await
    }

    /// Run `f` with `ctx` as the current context (blocking code).
    pub fn scope_blocking<F, R>(ctx: CurrentContext, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let _pop = push(ctx);
        f()
    }

    /// The current context, or the default outside any scope.
    pub fn current() -> CurrentContext {
        CTX.with(|c| c.borrow().last().cloned().unwrap_or_default())
    }

    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&CurrentContext>) -> R) -> R {
        CTX.with(|c| f(c.borrow().last()))
    }
}
