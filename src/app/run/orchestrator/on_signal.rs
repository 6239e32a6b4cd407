//! A signal: the loop stops claiming and interrupts its agents, whose claims stay for the next
//! start, or leaves them running for it (`detach_agents`).

use super::Orchestrator;

impl Orchestrator {
    /// Begins the shutdown (once); true when the loop is to return at once, leaving its agents
    /// detached.
    pub(super) fn on_signal(&mut self, detach_agents: bool) -> bool {
        if self.shutting_down {
            return false;
        }
        self.shutting_down = true;
        self.claiming = false;
        tracing::info!(
            in_flight = self.in_flight.len(),
            detach_agents,
            "shutting down"
        );
        if detach_agents {
            return true;
        }
        for flight in self.in_flight.values_mut() {
            if let Some(stop) = flight.stop.take() {
                let _ = stop.send(());
            }
            flight.interrupted = true;
        }
        false
    }
}
