#if canImport(Glibc)
import Glibc
#endif

/// Runs the machine's own tools (systemctl, useradd, chpasswd). Tests substitute a recorder when
/// they apply into a scratch root, where no systemd is running.
public protocol CommandRunner: Sendable {
    /// Runs `arguments` (looked up on PATH) with `input` on stdin; returns the exit status.
    func run(_ arguments: [String], input: [UInt8]?) -> Int32
}

/// posix_spawn with the agent's stdout and stderr, so the tools' messages land in the journal.
public struct SpawnedCommands: CommandRunner {
    public init() {}

    public func run(_ arguments: [String], input: [UInt8]?) -> Int32 {
        spawn(arguments, input: input, output: nil)
    }

    /// Runs `arguments` and returns its exit status and what it wrote to stdout (stderr stays the
    /// agent's, for the journal).
    public func capture(_ arguments: [String]) -> (status: Int32, output: [UInt8]) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return (127, []) }
        var output: [UInt8] = []
        let status = spawn(arguments, input: nil, output: ends[1]) {
            close(ends[1])
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                output += buffer[0..<count]
            }
            close(ends[0])
        }
        return (status, output)
    }

    private func spawn(_ arguments: [String], input: [UInt8]?, output: Int32?, whileRunning: () -> Void = {}) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pipeEnds: [Int32] = [-1, -1]
        if input != nil {
            guard pipe(&pipeEnds) == 0 else { return 127 }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        }
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_addclose(&actions, output)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        if input != nil { close(pipeEnds[0]) }
        guard status == 0 else {
            if input != nil { close(pipeEnds[1]) }
            whileRunning()
            return 127
        }
        if let input {
            input.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let count = write(pipeEnds[1], buffer.baseAddress! + offset, buffer.count - offset)
                    if count <= 0 { break }
                    offset += count
                }
            }
            close(pipeEnds[1])
        }
        whileRunning()
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return exit & 0x7F == 0 ? (exit >> 8) & 0xFF : 128 + (exit & 0x7F)
    }
}
