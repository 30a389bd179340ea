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
