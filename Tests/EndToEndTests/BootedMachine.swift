import Foundation

/// An image booted with `coresdk qemu` (OVMF, TCG here), its serial console in a file and its SSH
/// port forwarded to 127.0.0.1, driven the way a user would: reading the console, logging in as core.
final class BootedMachine {
    let disk: URL
    let serialLog: URL
    let sshPort: Int
    let key: URL
    let started = Date()
    private let process: Process

    /// `options` go to `coresdk qemu` (e.g. `--link`), `qemuArguments` to QEMU after `--`.
    init(disk: URL, key: URL, options: [String] = [], qemuArguments: [String] = []) throws {
        self.disk = disk
        self.key = key
        serialLog = disk.deletingPathExtension().appendingPathExtension("serial-\(UUID().uuidString.prefix(4)).log")
        sshPort = try Self.freePort()
        process = Process()
        process.executableURL = CoreSDKRunner.binary
        process.arguments = ["qemu", disk.path, "--ssh-port", String(sshPort), "--serial-log", serialLog.path,
                             "--memory", "1024"] + options + (qemuArguments.isEmpty ? [] : ["--"] + qemuArguments)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit { stop() }

    /// SIGTERM to `coresdk qemu`, which passes it on to QEMU; waits for coresdk to exit.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    var console: String { (try? String(contentsOf: serialLog, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits until the serial console shows `text` (after `occurrence - 1` earlier ones); returns
    /// the seconds since QEMU started.
    @discardableResult
    func waitForConsole(_ text: String, occurrence: Int = 1, timeout: TimeInterval) throws -> TimeInterval {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if console.components(separatedBy: text).count > occurrence { return Date().timeIntervalSince(started) }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 1)
        }
        throw failure("'\(text)' did not appear on the serial console within \(Int(timeout)) s")
    }

    /// Runs a command as core over SSH, retrying the connection until sshd answers.
    @discardableResult
    func ssh(_ command: String, timeout: TimeInterval = 120) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        repeat {
            let run = try CoreSDKRunner.launch(
                ["ssh", "-i", key.path, "-p", String(sshPort), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                 "core@127.0.0.1", command])
            if run.status == 0 { return run.standardOutput }
            // 255 is ssh's own failure (no connection yet); anything else is the command's.
            guard run.status == 255 else { throw failure("'\(command)' exited \(run.status): \(run.standardError)") }
            last = run.standardError
            Thread.sleep(forTimeInterval: 3)
        } while Date() < deadline && process.isRunning
        throw failure("no SSH login as core within \(Int(timeout)) s: \(last)")
    }

    /// What `command` prints as core, without the trailing newline.
    func output(_ command: String, timeout: TimeInterval = 120) throws -> String {
        try ssh(command, timeout: timeout).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `command` until it succeeds (etcd answers only once its cluster has formed, a rebooting
    /// machine only once it is back); what it printed then.
    func eventually(_ command: String, timeout: TimeInterval = 300) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Error?
        repeat {
            do { return try output(command) } catch { last = error }
            Thread.sleep(forTimeInterval: 5)
        } while Date() < deadline
        throw last ?? NSError(domain: "boot", code: 1)
    }

    /// Waits until the running machine's GPT shows USR partition `number` marked successful (what
    /// the boot check does after a good boot); returns its last `coreos-gptprio show` line.
    func waitUntilSlotIsMarkedGood(_ number: Int, timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var state = ""
        while Date() < deadline {
            state = try ssh("sudo coreos-gptprio show /dev/vda | awk '$1 == \(number)'")
            if state.contains("successful=1") { break }
            Thread.sleep(forTimeInterval: 5)
        }
        return state
    }

    /// Powers the machine off from inside and waits for QEMU to exit.
    func powerOff(timeout: TimeInterval = 120) throws {
        _ = try? ssh("sudo systemctl poweroff", timeout: 30)
        try waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 1) }
        if process.isRunning {
            process.terminate()
            throw failure("QEMU did not exit within \(Int(timeout)) s")
        }
    }

    private func failure(_ message: String) -> NSError {
        NSError(domain: "boot", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(message)\n--- serial console (last 3000 characters) ---\n\(console.suffix(3000))"])
    }

    /// A port on 127.0.0.1 nobody listens on right now.
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0
            }
        }
        guard bound else { throw NSError(domain: "boot", code: 2, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
