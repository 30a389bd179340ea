import Database

/// The server's state in SQL, one statement text for SQLite and PostgreSQL. A check-in is one
/// transaction that locks its group's row, so rollout limits hold across several server processes
/// sharing one PostgreSQL database.
public final class UpdateStore: Sendable {
    public let database: any SQLDatabase

    static let schema = [
        """
        CREATE TABLE update_channels (
            name TEXT PRIMARY KEY, public_key TEXT NOT NULL, version TEXT, file_name TEXT, size BIGINT,
            sha1_base64 TEXT, sha256_base64 TEXT, sha256_hex TEXT, published_at BIGINT)
        """,
        """
        CREATE TABLE update_groups (
            name TEXT PRIMARY KEY, channel TEXT NOT NULL REFERENCES update_channels (name),
            max_updates BIGINT, period_seconds BIGINT NOT NULL, update_timeout_seconds BIGINT NOT NULL,
            paused BIGINT NOT NULL DEFAULT 0, halted_reason TEXT)
        """,
        """
        CREATE TABLE machines (
            machine_id TEXT PRIMARY KEY, group_name TEXT NOT NULL, version TEXT NOT NULL, board TEXT NOT NULL,
            address TEXT NOT NULL, status BIGINT NOT NULL, last_check BIGINT NOT NULL, granted_version TEXT,
            granted_at BIGINT, in_progress BIGINT NOT NULL, previous_version TEXT, event_count BIGINT NOT NULL)
        """,
        "CREATE INDEX machines_by_group ON machines (group_name, granted_at)",
        """
        CREATE TABLE machine_events (
            machine_id TEXT NOT NULL, sequence BIGINT NOT NULL, time BIGINT NOT NULL, type BIGINT NOT NULL,
            result BIGINT NOT NULL, error_code BIGINT, version TEXT NOT NULL, previous_version TEXT,
            PRIMARY KEY (machine_id, sequence))
        """,
        "CREATE INDEX machine_events_by_time ON machine_events (time)",
    ]

    public init(database: any SQLDatabase) async throws {
        self.database = database
        try await migrate(database, steps: Self.schema)
    }

    // MARK: channels

    public func createChannel(_ channel: Channel) async throws {
        try await database.transaction { sql in
            guard try await sql.query("SELECT name FROM update_channels WHERE name = $1", [.text(channel.name)]).isEmpty else {
                throw UpdateServerError.conflict("channel \(channel.name) exists already")
            }
            try await sql.execute("INSERT INTO update_channels (name, public_key) VALUES ($1, $2)",
                                  [.text(channel.name), .text(channel.publicKey)])
        }
    }

    public func channels() async throws -> [Channel] {
        try await database.transaction { sql in
            try await sql.query("SELECT * FROM update_channels ORDER BY name", []).map(Self.channel)
        }
    }

    public func channel(_ name: String) async throws -> Channel? {
        try await database.transaction { sql in
            try await sql.query("SELECT * FROM update_channels WHERE name = $1", [.text(name)]).first.map(Self.channel)
        }
    }

    public func publish(_ payload: PublishedPayload, to channel: String) async throws {
        let changed = try await database.transaction { sql in
            try await sql.execute("""
                UPDATE update_channels SET version = $2, file_name = $3, size = $4, sha1_base64 = $5,
                    sha256_base64 = $6, sha256_hex = $7, published_at = $8 WHERE name = $1
                """, [.text(channel), .text(payload.version), .text(payload.fileName), .integer(payload.size),
                      .text(payload.sha1Base64), .text(payload.sha256Base64), .text(payload.sha256Hex),
                      .integer(payload.publishedAt)])
        }
        guard changed == 1 else { throw UpdateServerError.notFound("no channel \(channel)") }
    }

    // MARK: groups

    /// Creates the group, or changes its channel and policy (its paused/halted state stays).
    public func putGroup(_ group: UpdateGroup) async throws {
        try await database.transaction { sql in
            guard try await !sql.query("SELECT name FROM update_channels WHERE name = $1", [.text(group.channel)]).isEmpty else {
                throw UpdateServerError.notFound("no channel \(group.channel)")
            }
            try await sql.execute("""
                INSERT INTO update_groups (name, channel, max_updates, period_seconds, update_timeout_seconds)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (name) DO UPDATE SET channel = $2, max_updates = $3, period_seconds = $4,
                    update_timeout_seconds = $5
                """, [.text(group.name), .text(group.channel), SQLValue(group.policy.maxUpdates),
                      .integer(group.policy.periodSeconds), .integer(group.policy.updateTimeoutSeconds)])
        }
    }

    public func groups() async throws -> [UpdateGroup] {
        try await database.transaction { sql in
            try await sql.query("SELECT * FROM update_groups ORDER BY name", []).map(Self.group)
        }
    }

    public func group(_ name: String) async throws -> UpdateGroup? {
        try await database.transaction { sql in
            try await sql.query("SELECT * FROM update_groups WHERE name = $1", [.text(name)]).first.map(Self.group)
        }
    }

    /// Pausing stops new grants; resuming also lifts a halt the server set by itself.
    public func setPaused(_ name: String, _ paused: Bool) async throws -> UpdateGroup {
        try await database.transaction { sql in
            let statement = paused ? "UPDATE update_groups SET paused = 1 WHERE name = $1"
                                   : "UPDATE update_groups SET paused = 0, halted_reason = NULL WHERE name = $1"
            guard try await sql.execute(statement, [.text(name)]) == 1 else {
                throw UpdateServerError.notFound("no group \(name)")
            }
            return try Self.group(try await sql.query("SELECT * FROM update_groups WHERE name = $1", [.text(name)])[0])
        }
    }

    // MARK: instances and events

    public func instances(group: String? = nil) async throws -> [Instance] {
        try await database.transaction { sql in
            let rows = if let group {
                try await sql.query("SELECT * FROM machines WHERE group_name = $1 ORDER BY machine_id", [.text(group)])
            } else {
                try await sql.query("SELECT * FROM machines ORDER BY machine_id", [])
            }
            return try rows.map(Self.instance)
        }
    }

    /// Events oldest first; the last `limit` of them.
    public func events(machineID: String? = nil, limit: Int = 1000) async throws -> [RecordedEvent] {
        try await database.transaction { sql in
            let rows = if let machineID {
                try await sql.query("""
                    SELECT * FROM machine_events WHERE machine_id = $1 ORDER BY time DESC, sequence DESC LIMIT $2
                    """, [.text(machineID), .integer(Int64(limit))])
            } else {
                try await sql.query("SELECT * FROM machine_events ORDER BY time DESC, machine_id DESC, sequence DESC LIMIT $1",
                                    [.integer(Int64(limit))])
            }
            return try rows.map(Self.event).reversed()
        }
    }

    // MARK: check-in

    /// Records a machine's request and decides its answer, all in one transaction.
    public func checkIn(_ checkIn: CheckIn, now: Int64) async throws -> UpdateAnswer {
        let lock = database.dialect.rowLock
        return try await database.transaction { sql in
            let group = try await sql.query("SELECT * FROM update_groups WHERE name = $1\(lock)", [.text(checkIn.group)])
                .first.map(Self.group)
            var channel: Channel?
            if let group {
                channel = try await sql.query("SELECT * FROM update_channels WHERE name = $1", [.text(group.channel)])
                    .first.map(Self.channel)
            }
            let existing = try await sql.query("SELECT * FROM machines WHERE machine_id = $1\(lock)", [.text(checkIn.machineID)])
                .first.map(Self.instance)
            var counts = RolloutCounts(grantsInPeriod: 0, inProgress: 0)
            if let group, group.policy.maxUpdates != nil {
                counts = try await Self.counts(in: group, excluding: checkIn.machineID, now: now, sql)
            }
            let decision = UpdateDecision.decide(checkIn, existing: existing, group: group, channel: channel,
                                                 counts: counts, now: now)
            try await Self.save(decision.instance, existed: existing != nil, sql)
            for event in decision.events {
                try await sql.execute("""
                    INSERT INTO machine_events (machine_id, sequence, time, type, result, error_code, version, previous_version)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    """, [.text(event.machineID), .integer(event.sequence), .integer(event.time), .integer(Int64(event.type)),
                          .integer(Int64(event.result)), SQLValue(event.errorCode.map(Int64.init)),
                          .text(event.version), SQLValue(event.previousVersion)])
            }
            if let reason = decision.haltReason, let group, group.haltedReason == nil {
                try await sql.execute("UPDATE update_groups SET halted_reason = $2 WHERE name = $1",
                                      [.text(group.name), .text(reason)])
            }
            return decision.answer
        }
    }

    private static func counts(in group: UpdateGroup, excluding machineID: String, now: Int64,
                               _ sql: any SQLConnection) async throws -> RolloutCounts {
        let granted = try await sql.query("""
            SELECT COUNT(*) AS n FROM machines WHERE group_name = $1 AND machine_id <> $2 AND granted_at >= $3
            """, [.text(group.name), .text(machineID), .integer(now - group.policy.periodSeconds)])
        let inProgress = try await sql.query("""
            SELECT COUNT(*) AS n FROM machines
            WHERE group_name = $1 AND machine_id <> $2 AND in_progress = 1 AND granted_at >= $3
            """, [.text(group.name), .text(machineID), .integer(now - group.policy.updateTimeoutSeconds)])
        return RolloutCounts(grantsInPeriod: try granted[0].integer("n"), inProgress: try inProgress[0].integer("n"))
    }

    private static func save(_ instance: Instance, existed: Bool, _ sql: any SQLConnection) async throws {
        let values: [SQLValue] = [
            .text(instance.machineID), .text(instance.group), .text(instance.version), .text(instance.board),
            .text(instance.address), .integer(instance.status.rawValue), .integer(instance.lastCheck),
            SQLValue(instance.grantedVersion), SQLValue(instance.grantedAt),
            .integer(instance.updateInProgress ? 1 : 0), SQLValue(instance.previousVersion), .integer(instance.eventCount),
        ]
        if existed {
            try await sql.execute("""
                UPDATE machines SET group_name = $2, version = $3, board = $4, address = $5, status = $6, last_check = $7,
                    granted_version = $8, granted_at = $9, in_progress = $10, previous_version = $11, event_count = $12
                WHERE machine_id = $1
                """, values)
        } else {
            // Two first check-ins of one machine at once: the second one updates.
            try await sql.execute("""
                INSERT INTO machines (machine_id, group_name, version, board, address, status, last_check, granted_version,
                    granted_at, in_progress, previous_version, event_count)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (machine_id) DO UPDATE SET group_name = $2, version = $3, board = $4, address = $5, status = $6,
                    last_check = $7, granted_version = $8, granted_at = $9, in_progress = $10, previous_version = $11,
                    event_count = $12
                """, values)
        }
    }

    // MARK: rows

    private static func channel(_ row: SQLRow) throws -> Channel {
        var channel = Channel(name: try row.text("name"), publicKey: try row.text("public_key"))
        if let version = try row.optionalText("version") {
            channel.payload = PublishedPayload(
                version: version, fileName: try row.text("file_name"), size: try row.integer("size"),
                sha1Base64: try row.text("sha1_base64"), sha256Base64: try row.text("sha256_base64"),
                sha256Hex: try row.text("sha256_hex"), publishedAt: try row.integer("published_at"))
        }
        return channel
    }

    private static func group(_ row: SQLRow) throws -> UpdateGroup {
        UpdateGroup(name: try row.text("name"), channel: try row.text("channel"),
                    policy: RolloutPolicy(maxUpdates: try row.optionalInteger("max_updates"),
                                          periodSeconds: try row.integer("period_seconds"),
                                          updateTimeoutSeconds: try row.integer("update_timeout_seconds")),
                    paused: try row.integer("paused") != 0, haltedReason: try row.optionalText("halted_reason"))
    }

    private static func instance(_ row: SQLRow) throws -> Instance {
        Instance(machineID: try row.text("machine_id"), group: try row.text("group_name"), version: try row.text("version"),
                 board: try row.text("board"), address: try row.text("address"),
                 status: InstanceStatus(rawValue: try row.integer("status")) ?? .undefined,
                 lastCheck: try row.integer("last_check"), grantedVersion: try row.optionalText("granted_version"),
                 grantedAt: try row.optionalInteger("granted_at"), updateInProgress: try row.integer("in_progress") != 0,
                 previousVersion: try row.optionalText("previous_version"), eventCount: try row.integer("event_count"))
    }

    private static func event(_ row: SQLRow) throws -> RecordedEvent {
        RecordedEvent(machineID: try row.text("machine_id"), sequence: try row.integer("sequence"), time: try row.integer("time"),
                      type: Int(try row.integer("type")), result: Int(try row.integer("result")),
                      errorCode: try row.optionalInteger("error_code").map { Int($0) }, version: try row.text("version"),
                      previousVersion: try row.optionalText("previous_version"))
    }
}
