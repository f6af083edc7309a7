//! STUB (being written): `atalaya bench scheduler`.

#[derive(clap::Args, Debug)]
pub struct SchedulerArgs {
    /// Pending jobs stored (far in the future) while the timed ones fire.
    #[arg(long, default_value_t = 1_000_000)]
    pub jobs: usize,
}

pub async fn scheduler(args: SchedulerArgs) -> Result<(), crate::cli::Failure> {
    let _ = args;
    Ok(())
}
