#if canImport(Glibc)
import Glibc
#endif
import Payload
import Posix

/// What `update_engine_client` needs from a running update_engine: its status, its pid to signal,
/// and the record of its last attempt, all under its run directory.
public struct UpdateEngineClient {
    public let run: String

    public init(run: String = UpdateEngine.Paths().run) { self.run = run }

    /// The last attempt the daemon finished: its number, result code (0: success or no update) and message.
    public struct Attempt: Sendable, Equatable {
        public let number: Int
        public let result: Int
        public let message: String
    }

    public var status: StatusReport? {
        SystemFile.contents(of: run + "/status").flatMap { StatusReport(lines: String(decoding: $0, as: UTF8.self)) }
    }

    public var lastAttempt: Attempt {
        let text = SystemFile.contents(of: run + "/attempt").map { String(decoding: $0, as: UTF8.self) } ?? ""
        let fields = KeyValueFile(text, path: run + "/attempt")
        return Attempt(number: fields["ATTEMPT"].flatMap { Int($0) } ?? 0, result: fields["RESULT"].flatMap { Int($0) } ?? 0,
                       message: fields["MESSAGE"] ?? "")
    }

    /// Sends `signal` to the daemon; false when none runs or it is not ours to signal (`reason` says which).
    public func signal(_ signal: Int32) -> (sent: Bool, reason: String) {
        guard let text = SystemFile.contents(of: run + "/pid"),
              let pid = pid_t(String(decoding: text, as: UTF8.self).filter(\.isNumber)), pid > 1 else { return (false, "update_engine is not running") }
        if kill(pid, signal) == 0 { return (true, "") }
        return (false, errno == EPERM ? "only root may ask update_engine to act (use sudo)" : "update_engine is not running")
    }

    /// Whether the daemon runs (anyone may ask; its status file is world-readable).
    public var isRunning: Bool {
        let answer = signal(0)
        return answer.sent || answer.reason.hasPrefix("only root")
    }
}
