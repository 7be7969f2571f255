//! The one plugin value `init` creates, kept for the calls that follow.
//!
//! A component exports one world, so one slot suffices; it holds the value as `dyn Any`
//! and hands it back typed.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static STATE: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Store the plugin value created by `init` (replacing any earlier one).
pub fn set<T: 'static>(value: T) {
    STATE.with(|s| *s.borrow_mut() = Some(Rc::new(value)));
}

/// The plugin value, if `init` has run.
pub fn get<T: 'static>() -> Option<Rc<T>> {
    STATE.with(|s| s.borrow().clone().and_then(|v| v.downcast::<T>().ok()))
}

/// Message for calls that arrive before `init` (used by every world's module; a build
/// with no world feature, such as an adapter model crate's, has none).
#[cfg_attr(
    not(any(
        feature = "environment",
        feature = "reward-checker",
        feature = "resampler"
    )),
    allow(dead_code)
)]
pub(crate) const NOT_INITIALIZED: &str = "the host called the plugin before `init`";
