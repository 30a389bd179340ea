#if canImport(Glibc)
import Glibc
#endif
import Posix
import UpdateAgent

/// `update_engine`: the daemon (update-engine.service).
enum UpdateEngineCommand {
    static func main(_ arguments: [String]) -> Never {
        for argument in arguments where argument != "--foreground" && argument != "-foreground" {
            usageError("update_engine", "unknown argument \(argument) (usage: update_engine [--foreground])")
        }
        func firstLine(_ path: String) -> String {
            SystemFile.contents(of: path).map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } } ?? ""
        }
        let identity = UpdateEngine.Identity(machineID: firstLine("/etc/machine-id"), bootID: firstLine("/proc/sys/kernel/random/boot_id"))
        let commandLine = SystemFile.contents(of: "/proc/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
        let engine = UpdateEngine(identity: identity, makeTarget: { try LiveDiskTarget(commandLine: commandLine) }, log: log)
        UpdateEngineDaemon.run(engine, log: log)
    }
}

/// `update_engine_client`: the original's flags (`-status`, `-check_for_update`, `-update`,
/// `-reset_status`, one action per call in that priority), except that `-update` exits 1 when the
/// update failed (the original exits 0 either way).
enum UpdateEngineClientCommand {
    static let usage = "usage: update_engine_client [-status] [-check_for_update] [-update] [-reset_status]"

    static func main(_ arguments: [String]) -> Never {
        var flags = Set<String>()
        for argument in arguments {
            let flag = String(argument.drop { $0 == "-" })
            guard ["status", "check_for_update", "update", "reset_status", "help"].contains(flag), argument.hasPrefix("-") else {
                usageError("update_engine_client", "unknown argument \(argument)\n\(usage)")
            }
            flags.insert(flag)
        }
        let client = UpdateEngineClient()
        if flags.contains("help") || flags.isEmpty { print(usage); exit(flags.isEmpty ? 2 : 0) }
        if flags.contains("reset_status") {
            guard connected(client), send(UpdateEngineDaemon.resetSignal, client) else { exit(1) }
            print("Status reset. To boot the old /usr again: coreos-gptprio prioritize DISK N (N: the partition booted now)")
            exit(0)
        }
        if flags.contains("status") {
            guard connected(client), let status = client.status else { exit(1) }
            print(status.lines, terminator: "")
            exit(0)
        }
        if flags.contains("check_for_update") {
            guard connected(client), send(UpdateEngineDaemon.checkSignal, client) else { exit(1) }
            print("Initiating update check and install.")
            exit(0)
        }
        // -update: check now, print the status every 5 s until the attempt is over.
        guard connected(client) else { exit(1) }
        let before = client.lastAttempt.number
        guard send(UpdateEngineDaemon.checkSignal, client) else { exit(1) }
        print("Initiating update check and install.")
        var waited = 0
        while client.lastAttempt.number <= before {
            sleep(1)
            waited += 1
            if waited % 5 == 0, let status = client.status { print(status.lines, terminator: ""); fflush(nil) }
        }
        let attempt = client.lastAttempt
        if attempt.result == 0 {
            print(client.status?.status == .updatedNeedReboot ? "Update succeeded -- reboot needed." : "No update available.")
            exit(0)
        }
        print("Update failed (code \(attempt.result)): \(attempt.message)")
        exit(1)
    }

    /// update_engine_client gives the daemon 4 tries, 10 s apart, to appear.
    private static func connected(_ client: UpdateEngineClient) -> Bool {
        for attempt in 0..<4 {
            if client.isRunning { return true }
            if attempt < 3 { sleep(10) }
        }
        print("Giving up: update_engine is not running")
        return false
    }

    private static func send(_ signal: Int32, _ client: UpdateEngineClient) -> Bool {
        let answer = client.signal(signal)
        if !answer.sent { print(answer.reason) }
        return answer.sent
    }
}
