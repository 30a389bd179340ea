import Database
import XCTest

/// What the update server relies on, the same on the SQLite file and on PostgreSQL: each test
/// body runs against both.
final class StoreContractTests: XCTestCase {
    private struct Refused: Error {}

    private static let counterTable = "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"

    func testCommittedRowsAreSeenByLaterTransactionsAndOtherHandles() async {
        await forEachStore { store, database in
            try await database.transaction { try await $0.execute(Self.counterTable) }
            let inserted = try await database.transaction { try await $0.execute("INSERT INTO counter (id, n) VALUES ($1, $2), ($3, $4)", [1, 10, 2, 20]) }
            XCTAssertEqual(inserted, 2, store.name)
            let other = try await store.open()
            let rows = try await other.transaction { try await $0.query("SELECT id, n FROM counter ORDER BY id") }
            XCTAssertEqual(try rows.map { [try $0.integer("id"), try $0.integer("n")] }, [[1, 10], [2, 20]], store.name)
            try await other.close()
        }
    }

    func testThrownErrorRollsBackEverythingTheTransactionDid() async {
        await forEachStore { store, database in
            do {
                try await database.transaction { connection in
                    try await connection.execute(Self.counterTable)
                    try await connection.execute("INSERT INTO counter (id, n) VALUES (1, 1)")
                    try await connection.execute("UPDATE counter SET n = 2")
                    throw Refused()
                }
                XCTFail("\(store.name): the body's error was not rethrown")
            } catch is Refused {}
            // Both stores roll back schema changes too: the table is gone with its rows.
            await assertDatabaseError(store.name, saying: "counter") { _ = try await rowCount("counter", in: database) }
        }
    }

    func testValuesRoundTripExactly() async {
        await forEachStore { store, database in
            let values: [SQLValue] = [.null, .integer(.min), .integer(.max), -1, 0, "", "Grüße, 世界 🚀", "it's \"quoted\"", "$1 and ?1 stay text", "line\nbreak\ttab"]
            try await database.transaction { connection in
                try await connection.execute("CREATE TABLE value (position BIGINT PRIMARY KEY, number BIGINT, words TEXT)")
                for (position, value) in values.enumerated() {
                    let isText = if case .text = value { true } else { false }
                    try await connection.execute("INSERT INTO value (position, number, words) VALUES ($1, $2, $3)",
                                                 [SQLValue(position), isText ? .null : value, isText ? value : .null])
                }
            }
            let rows = try await database.transaction { try await $0.query("SELECT number, words FROM value ORDER BY position") }
            let read = try rows.map { row in try row["words"] == .null ? try row["number"] : try row["words"] }
            XCTAssertEqual(read, values, store.name)

            // A placeholder inside a string literal is text; the same number used twice binds the same value.
            let literal = try await database.transaction {
                try await $0.query("SELECT 'costs $1 -- not a comment' AS literal, $1 AS first, $1 AS again, $2 AS second", ["x", 7])[0]
            }
            XCTAssertEqual(try literal.text("literal"), "costs $1 -- not a comment", store.name)
            XCTAssertEqual(try literal.text("first"), "x", store.name)
            XCTAssertEqual(try literal.text("again"), "x", store.name)
            XCTAssertEqual(try literal.integer("second"), 7, store.name)
        }
    }

    func testUpsertReturningAndChangeCountsAreTheSame() async {
        await forEachStore { store, database in
            let upsert = "INSERT INTO channel (id, name, n) VALUES ($1, $2, 1) ON CONFLICT (name) DO UPDATE SET n = channel.n + 1 RETURNING id, n"
            let results = try await database.transaction { connection in
                try await connection.execute("CREATE TABLE channel (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0)")
                var results: [[Int64]] = []
                for (id, name) in [(1, "stable"), (2, "beta"), (3, "stable")] {
                    let row = try await connection.query(upsert, [SQLValue(id), SQLValue(name)])[0]
                    results.append([try row.integer("id"), try row.integer("n")])
                }
                let defaulted = try await connection.query("INSERT INTO channel (id, name) VALUES (9, 'alpha') RETURNING n")[0]
                results.append([try defaulted.integer("n")])
                results.append([Int64(try await connection.execute("UPDATE channel SET n = 0 WHERE n < 2"))])
                results.append([Int64(try await connection.execute("SELECT * FROM channel"))])
                results.append([Int64(try await connection.execute("DELETE FROM channel WHERE name = $1", ["nothing"]))])
                return results
            }
            // stable inserted, beta inserted, stable bumped; alpha took the DEFAULT; two rows had n < 2;
            // a SELECT changes nothing; a DELETE that matches nothing changes nothing.
            XCTAssertEqual(results, [[1, 1], [2, 1], [1, 2], [0], [2], [0], [0]], store.name)
        }
    }

    func testAutoIncrementKeyNumbersRowsFromOne() async {
        await forEachStore { store, database in
            let ids = try await database.transaction { connection in
                try await connection.execute("CREATE TABLE machine (id \(database.dialect.autoIncrementKey), name TEXT NOT NULL)")
                var ids: [Int64] = []
                for name in ["a", "b"] {
                    ids.append(try await connection.query("INSERT INTO machine (name) VALUES ($1) RETURNING id", [SQLValue(name)])[0].integer("id"))
                }
                return ids
            }
            XCTAssertEqual(ids, [1, 2], store.name)
        }
    }

    func testForeignKeysAndUniqueConstraintsAreEnforcedAndFlagged() async {
        await forEachStore { store, database in
            try await database.transaction { connection in
                try await connection.execute("CREATE TABLE grp (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
                try await connection.execute("CREATE TABLE member (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL REFERENCES grp (id))")
                try await connection.execute("INSERT INTO grp (id, name) VALUES (1, 'stable')")
            }
            for statement in ["INSERT INTO member (id, grp) VALUES (1, 42)", "INSERT INTO grp (id, name) VALUES (2, 'stable')"] {
                let error = await assertDatabaseError("\(store.name): \(statement)") { _ = try await database.transaction { try await $0.execute(statement) } }
                XCTAssertEqual(error?.isConstraintViolation, true, "\(store.name): \(String(describing: error))")
                XCTAssertEqual(error?.statement, statement, store.name)
            }
        }
    }

    func testTwoHandlesIncrementingOneCounterLoseNoUpdate() async {
        await forEachStore { store, first in
            let second = try await store.open()
            try await first.transaction { connection in
                try await connection.execute(Self.counterTable)
                try await connection.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
            }
            // Read, then write what was read plus one: without the row lock, two transactions reading
            // the same value would both write value + 1 and one increment would be lost.
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for database in [first, second] {
                    for _ in 0..<200 {
                        group.addTask {
                            try await database.transaction { connection in
                                let n = try await connection.query("SELECT n FROM counter WHERE id = 1" + database.dialect.rowLock)[0].integer("n")
                                try await connection.execute("UPDATE counter SET n = $1 WHERE id = 1", [.integer(n + 1)])
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            print("\(store.name): 400 read-then-write transactions from two handles in \(ContinuousClock.now - started)")
            let n = try await first.transaction { try await $0.query("SELECT n FROM counter WHERE id = 1")[0].integer("n") }
            XCTAssertEqual(n, 400, store.name)
            try await second.close()
        }
    }

    func testMigrateAppliesOnlyStepsNotYetApplied() async {
        await forEachStore { store, database in
            var steps = [
                "CREATE TABLE grp (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
                """
                -- a step may hold several statements
                ALTER TABLE grp ADD COLUMN track TEXT NOT NULL DEFAULT 'stable';
                INSERT INTO grp (id, name) VALUES (1, 'default; with a semicolon');
                """,
            ]
            let first = try await migrate(database, steps: steps)
            let again = try await migrate(database, steps: steps)
            steps.append("ALTER TABLE grp ADD COLUMN rollout BIGINT NOT NULL DEFAULT 100")
            let third = try await migrate(database, steps: steps)
            XCTAssertEqual([first, again, third], [2, 0, 1], store.name)
            let row = try await database.transaction { try await $0.query("SELECT name, track, rollout FROM grp")[0] }
            XCTAssertEqual(try row.text("name"), "default; with a semicolon", store.name)
            XCTAssertEqual(try row.text("track"), "stable", store.name)
            XCTAssertEqual(try row.integer("rollout"), 100, store.name)
            let version = try await database.transaction { try await $0.query("SELECT version FROM schema_version")[0].integer("version") }
            XCTAssertEqual(version, 3, store.name)
        }
    }

    func testFailedMigrationStepIsNamedAndLeavesTheEarlierSteps() async {
        await forEachStore { store, database in
            let steps = ["CREATE TABLE grp (id BIGINT PRIMARY KEY)", "INSERT INTO grp (id) VALUES (1); ALTER TABLE nowhere ADD COLUMN x TEXT"]
            await assertDatabaseError(store.name, saying: "migration step 2 of 2 failed", "nowhere") { try await migrate(database, steps: steps) }
            // Step 1 stays applied; step 2's INSERT was rolled back with it, and it is tried again next time.
            let rows = try await database.transaction { try await $0.query("SELECT id FROM grp") }
            XCTAssertEqual(rows.count, 0, store.name)
            let applied = try await migrate(database, steps: ["CREATE TABLE grp (id BIGINT PRIMARY KEY)", "INSERT INTO grp (id) VALUES (1)"])
            XCTAssertEqual(applied, 1, store.name)
        }
    }

    func testTwoProcessesMigratingAtOnceApplyEachStepOnce() async {
        await forEachStore { store, first in
            let second = try await store.open()
            // Each step after the first logs itself: a step applied twice would log twice.
            let steps = ["CREATE TABLE step_log (step BIGINT NOT NULL)"] + (2...6).map { "INSERT INTO step_log (step) VALUES (\($0))" }
            async let fromFirst = migrate(first, steps: steps)
            async let fromSecond = migrate(second, steps: steps)
            let applied = try await fromFirst + fromSecond
            XCTAssertEqual(applied, steps.count, store.name)
            let logged = try await first.transaction { try await $0.query("SELECT step FROM step_log ORDER BY step").map { try $0.integer("step") } }
            XCTAssertEqual(logged, [2, 3, 4, 5, 6], store.name)
            try await second.close()
        }
    }

    func testSchemaNewerThanTheStepsIsRefused() async {
        await forEachStore { store, database in
            try await migrate(database, steps: ["CREATE TABLE a (id BIGINT)", "CREATE TABLE b (id BIGINT)"])
            await assertDatabaseError(store.name, saying: "version 2 but this coresdk knows only 1") {
                try await migrate(database, steps: ["CREATE TABLE a (id BIGINT)"])
            }
        }
    }

    func testBadSQLNamesTheDatabaseTheReasonAndTheStatement() async {
        await forEachStore { store, database in
            let error = await assertDatabaseError(store.name, saying: "syntax error") { _ = try await database.transaction { try await $0.query("SELEC 1") } }
            XCTAssertEqual(error?.database, database.description, store.name)
            XCTAssertEqual(error.map { "\($0)".hasPrefix(database.description + ": ") && "\($0)".hasSuffix("(in: SELEC 1)") }, true, "\(store.name): \(String(describing: error))")
            let unbound = await assertDatabaseError(store.name) { _ = try await database.transaction { try await $0.query("SELECT $1 AS a, $2 AS b", [1]) } }
            XCTAssertEqual(unbound?.database, database.description, store.name)
        }
    }

    func testFailedStatementEndsTheTransactionEvenIfTheErrorIsCaught() async {
        await forEachStore { store, database in
            try await database.transaction { try await $0.execute(Self.counterTable) }
            await assertDatabaseError(store.name, saying: "rolled back because a statement in it failed") {
                try await database.transaction { connection in
                    try await connection.execute("INSERT INTO counter (id, n) VALUES (1, 1)")
                    _ = try? await connection.execute("INSERT INTO counter (id, n) VALUES (1, 1)")
                    await assertDatabaseError("\(store.name): after a failed statement", saying: "an earlier statement of this transaction failed") {
                        try await connection.execute("INSERT INTO counter (id, n) VALUES (2, 2)")
                    }
                }
            }
            let count = try await rowCount("counter", in: database)
            XCTAssertEqual(count, 0, store.name)
        }
    }

    func testNestedTransactionThrowsInsteadOfWaitingForItself() async {
        await forEachStore { store, database in
            await assertDatabaseError(store.name, saying: "inside a transaction of the same database") {
                try await database.transaction { _ in try await database.transaction { _ in } }
            }
            // The database is still usable.
            let one = try await database.transaction { try await $0.query("SELECT 1 AS one")[0].integer("one") }
            XCTAssertEqual(one, 1, store.name)
        }
    }

    func testConnectionKeptPastItsTransactionRefusesStatements() async {
        await forEachStore { store, database in
            let kept = try await database.transaction { $0 }
            await assertDatabaseError(store.name, saying: "after the transaction ended") { _ = try await kept.query("SELECT 1 AS one") }
        }
    }

    func testWrongColumnTypeOrNameIsNamedInTheError() async {
        await forEachStore { store, database in
            let row = try await database.transaction { try await $0.query("SELECT 'seven' AS n, NULL AS missing")[0] }
            XCTAssertThrowsError(try row.integer("n")) { XCTAssertTrue("\($0)".contains("column \"n\" holds 'seven', expected an integer"), "\(store.name): \($0)") }
            XCTAssertThrowsError(try row.text("missing")) { XCTAssertTrue("\($0)".contains("column \"missing\" holds NULL"), "\(store.name): \($0)") }
            XCTAssertThrowsError(try row.text("absent")) { XCTAssertTrue("\($0)".contains("no column \"absent\""), "\(store.name): \($0)") }
            XCTAssertNil(try row.optionalText("missing"), store.name)
        }
    }

    func testClosedDatabaseRefusesTransactions() async {
        await forEachStore { store, database in
            try await database.close()
            await assertDatabaseError(store.name, saying: "\(database.description): the database was closed") { try await database.transaction { _ in } }
        }
    }

    func testSmallWriteTransactionsPerSecond() async {
        await forEachStore { store, database in
            try await database.transaction { try await $0.execute("CREATE TABLE event (id BIGINT PRIMARY KEY, machine TEXT NOT NULL)") }
            let tasks = 4, each = store.name == "SQLite" ? 1_000 : 250
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for index in 0..<each {
                            try await database.transaction {
                                try await $0.execute("INSERT INTO event (id, machine) VALUES ($1, $2)", [SQLValue(task * each + index), .text("machine-\(task)")])
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("\(store.name): \(tasks * each) one-row write transactions from \(tasks) tasks in \(elapsed): \(Int(Double(tasks * each) / seconds)) per second")
            let count = try await rowCount("event", in: database)
            XCTAssertEqual(count, Int64(tasks * each), store.name)
        }
    }
}
