//! The text of a caught panic, for error span logs and the SDK's own
//! warnings.

use std::any::Any;

/// The text of a panic payload, as the error span log has it
/// (`panic: <message>`), for servers that catch panics themselves.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("order 42 cannot be processed")).unwrap_err();
/// assert_eq!(
///     wavefront_core::lifecycle::panic_message(&*payload),
///     "panic: order 42 cannot be processed"
/// );
/// ```
#[must_use]
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => format!("panic: {s}"),
        (_, Some(s)) => format!("panic: {s}"),
        _ => "panic".to_owned(),
    }
}
