import Database
import Foundation
import TestSupport
import XCTest

/// A store under test. `open` gives a new handle on the same database each time: two handles
/// are what two server processes sharing it would have.
struct Store: Sendable {
    let name: String
    let open: @Sendable () async throws -> any SQLDatabase
}

extension XCTestCase {
    /// Runs `body` against a fresh SQLite file and then a fresh PostgreSQL database, with a
    /// handle on it that is closed afterwards; a failure says which store it was. The PostgreSQL
    /// part fails (it is not skipped) when PostgreSQL cannot be started.
    func forEachStore(file: StaticString = #filePath, line: UInt = #line, _ body: (Store, any SQLDatabase) async throws -> Void) async {
        let scratch: Scratch
        do { scratch = try Scratch() } catch { return XCTFail("scratch directory: \(error)", file: file, line: line) }
        let path = scratch.path("server.db").path
        let stores: [(name: String, make: () throws -> Store)] = [
            ("SQLite", { Store(name: "SQLite") { try SQLiteDatabase(path: path) } }),
            ("PostgreSQL", {
                let url = try PostgresTestCluster.shared.get().createDatabase()
                return Store(name: "PostgreSQL") { try await PostgresDatabase(url: url) }
            }),
        ]
        for (name, make) in stores {
            do {
                let store = try make()
                let database = try await store.open()
                do {
                    try await body(store, database)
                    try await database.close()
                } catch {
                    try? await database.close()
                    throw error
                }
            } catch {
                XCTFail("\(name): \(error)", file: file, line: line)
            }
        }
        withExtendedLifetime(scratch) {}
    }
}

/// Asserts that `body` throws a DatabaseError whose text contains each of `expected`, and
/// returns it; `context` (the store, the case) starts the failure message.
@discardableResult
func assertDatabaseError(_ context: String, saying expected: String..., file: StaticString = #filePath, line: UInt = #line,
                         _ body: () async throws -> Void) async -> DatabaseError? {
    do {
        try await body()
        XCTFail("\(context): no error", file: file, line: line)
    } catch let error as DatabaseError {
        for part in expected where !error.description.contains(part) {
            XCTFail("\(context): \"\(part)\" is not in: \(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("\(context): not a DatabaseError: \(error)", file: file, line: line)
    }
    return nil
}

/// How many rows `table` holds, read in a transaction of its own.
func rowCount(_ table: String, in database: any SQLDatabase) async throws -> Int64 {
    try await database.transaction { try await $0.query("SELECT COUNT(*) AS count FROM \(table)")[0].integer("count") }
}

/// A throwaway PostgreSQL cluster for this test process (scripts/postgres-test-cluster.sh),
/// started on first use and deleted when the process exits.
final class PostgresTestCluster: Sendable {
    static let shared = Result { try PostgresTestCluster() }

    let name: String
    let port: Int
    let password: String
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
    func createDatabase() throws -> String {
        let database = "test_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try Self.script(["createdb", name, database])
        return url(database: database)
    }

    func url(database: String, password: String? = nil, port: Int? = nil) -> String {
        "postgres://coresdk:\(password ?? self.password)@127.0.0.1:\(port ?? self.port)/\(database)?sslmode=disable"
    }

    struct ScriptError: Error, CustomStringConvertible {
        let description: String
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
