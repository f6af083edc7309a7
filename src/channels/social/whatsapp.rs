//! The whatsapp connector (not built yet: the channel is reported as not connected).

use super::Connector;
use crate::config::WhatsappChannel;
use std::sync::Arc;

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = false;

/// The connector for one configured channel.
pub fn connector(_cfg: &WhatsappChannel) -> Option<Arc<dyn Connector>> {
    None
}
