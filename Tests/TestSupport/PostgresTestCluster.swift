import Foundation

/// A throwaway PostgreSQL cluster for this test process (scripts/postgres-test-cluster.sh),
/// started on first use and deleted when the process exits.
public final class PostgresTestCluster: Sendable {
    public static let shared = Result { try PostgresTestCluster() }

    public let name: String
    public let port: Int
    public let password: String
    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/postgres-test-cluster.sh").standardized.path

    private init() throws {
        let fields = try Self.script(["start", String(getpid())]).split(separator: " ").map(String.init)
        guard fields.count == 3, let port = Int(fields[1]) else { throw ScriptError("unexpected output from \(Self.script) start: \(fields)") }
        (name, self.port, password) = (fields[0], port, fields[2])
        atexit {
            guard case .success(let cluster) = PostgresTestCluster.shared else { return }
            do { _ = try PostgresTestCluster.script(["stop", cluster.name]) } catch {
                FileHandle.standardError.write(Data("PostgreSQL test cluster \(cluster.name) is left running (the next test run deletes it): \(error)\n".utf8))
            }
        }
    }

    /// A new empty database owned by the role the tests log in as, and its URL.
    public func createDatabase() throws -> String {
        let database = "test_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try Self.script(["createdb", name, database])
        return url(database: database)
    }

    public func url(database: String, password: String? = nil, port: Int? = nil) -> String {
        "postgres://coresdk:\(password ?? self.password)@127.0.0.1:\(port ?? self.port)/\(database)?sslmode=disable"
    }

    public struct ScriptError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs the script; its standard output, trimmed. posix_spawn and waitpid rather than
    /// Foundation's Process, whose wait for the exit never returns once PostgresNIO's event loop
    /// threads run (the SIGCHLD it waits for goes to one of them). Output goes through files: a
    /// pipe that nobody reads while the script runs could fill and stop it.
    private static func script(_ arguments: [String]) throws -> String {
        let scratch = try Scratch()
        let output = scratch.path("stdout").path, errors = scratch.path("stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ["/bin/bash", script] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw ScriptError("cannot run \(script): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        // A normal exit with status 0: WIFEXITED and WEXITSTATUS are macros Swift cannot import.
        guard status == 0 else {
            let reason = ((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            throw ScriptError("\(script) \(arguments.joined(separator: " ")) failed: \(reason)")
        }
        return text
    }
}
