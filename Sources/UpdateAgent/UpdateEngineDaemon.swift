#if canImport(Glibc)
import Glibc
#endif
import Posix

/// The daemon around an `UpdateEngine`: checks on `CheckSchedule`, and at once on SIGUSR1
/// (`update_engine_client -check_for_update`); SIGUSR2 resets the status (`-reset_status`). The
/// signals are taken synchronously (sigtimedwait), so a check never races a signal handler.
public enum UpdateEngineDaemon {
    public static let checkSignal = SIGUSR1
    public static let resetSignal = SIGUSR2

    public static func run(_ engine: UpdateEngine, log: (String) -> Void) -> Never {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, checkSignal)
        sigaddset(&signals, resetSignal)
        sigprocmask(SIG_BLOCK, &signals, nil)
        try? SystemFile.replace(engine.paths.run + "/pid", with: Array("\(getpid())\n".utf8))

        var random = SystemRandomNumberGenerator()
        var schedule = CheckSchedule(scale: engine.configuration.timeScale)
        var wait = schedule.first(using: &random)
        while true {
            log("next update check in \(Int(wait.rounded())) s")
            let signal = waitForSignal(signals, seconds: wait)
            if signal == resetSignal {
                log(engine.resetStatus() ? "status reset" : "status not reset: an update is in progress")
                wait = 1
                continue
            }
            let outcome = engine.attempt(interactive: signal == checkSignal)
            schedule = CheckSchedule(scale: engine.configuration.timeScale, continuing: schedule)
            wait = schedule.next(after: outcome, using: &random)
        }
    }

    /// The signal that arrived within `seconds`, or nil when the time ran out.
    private static func waitForSignal(_ signals: sigset_t, seconds: Double) -> Int32? {
        var signals = signals
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        while true {
            let received = sigtimedwait(&signals, nil, &timeout)
            if received >= 0 { return received }
            if errno == EINTR { continue }
            return nil
        }
    }
}
