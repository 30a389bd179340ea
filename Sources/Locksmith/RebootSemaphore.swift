import JSON

/// locksmith's reboot semaphore (spec update-agent.md §3.4), the JSON document at
/// `coreos.com/updateengine/rebootlock/semaphore`: free slots, the maximum, and the sorted machine
/// ids holding a slot. Each change is a pure function here; `EtcdRebootLock` stores the result
/// with a compare-and-swap.
public struct RebootSemaphore: Sendable, Equatable {
    public var semaphore: Int
    public var max: Int
    public var holders: [String]

    public static let key = "coreos.com/updateengine/rebootlock/semaphore"

    /// The key for a locksmith group: `groups/<escaped group>/semaphore`.
    public static func key(group: String?) -> String {
        guard let group, !group.isEmpty else { return key }
        return "coreos.com/updateengine/rebootlock/groups/\(queryEscaped(group))/semaphore"
    }

    public init(semaphore: Int = 1, max: Int = 1, holders: [String] = []) {
        self.semaphore = semaphore
        self.max = max
        self.holders = holders
    }

    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case full(Int)
        case alreadyHeld(String)
        case notHeld(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .full(let value): "semaphore is at \(value)"
            case .alreadyHeld(let id): "\(id) already holds the lock"
            case .notHeld(let id): "\(id) does not hold the lock"
            case .malformed(let reason): "the semaphore is not locksmith's JSON: \(reason)"
            }
        }
    }

    public func locked(by id: String) throws(Refusal) -> RebootSemaphore {
        guard !holders.contains(id) else { throw .alreadyHeld(id) }
        guard semaphore > 0 else { throw .full(semaphore) }
        return RebootSemaphore(semaphore: semaphore - 1, max: max, holders: (holders + [id]).sorted())
    }

    public func unlocked(by id: String) throws(Refusal) -> RebootSemaphore {
        guard holders.contains(id) else { throw .notHeld(id) }
        return RebootSemaphore(semaphore: semaphore + 1, max: max, holders: holders.filter { $0 != id })
    }

    /// `set-max N`: the free count moves by the change; holders keep their slots.
    public func withMax(_ newMax: Int) -> RebootSemaphore {
        RebootSemaphore(semaphore: semaphore - (max - newMax), max: newMax, holders: holders)
    }

    // MARK: JSON

    public init(json bytes: [UInt8]) throws(Refusal) {
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch { throw .malformed("\(error)") }
        guard let semaphore = value["semaphore"]?.int64Value, let max = value["max"]?.int64Value else {
            throw .malformed("no integer semaphore and max")
        }
        var holders: [String] = []
        switch value["holders"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                guard case .string(let id) = item else { throw .malformed("a holder is not a string") }
                holders.append(id)
            }
        default: throw .malformed("holders is not a list")
        }
        self.init(semaphore: Int(semaphore), max: Int(max), holders: holders)
    }

    public var json: [UInt8] {
        JSONValue.object([("semaphore", .integer(Int64(semaphore))), ("max", .integer(Int64(max))),
                          ("holders", .array(holders.map { .string($0) }))]).serializedBytes
    }

    /// Go's url.QueryEscape, as locksmith escapes group names.
    static func queryEscaped(_ text: String) -> String {
        var escaped = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                escaped.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: " "): escaped.append("+")
            default: escaped += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return escaped
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
