import Etcd
import Foundation
import HTTPFetch
import JSON
import TestSupport
import XCTest

final class EtcdTests: XCTestCase {
    var server: EtcdTestServer!
    var etcd: EtcdClient!

    override func setUpWithError() throws {
        server = try EtcdTestServer()
        etcd = EtcdClient(endpoints: [server.endpoint], fetcher: HTTPFetcher(connectTimeout: 5, lowSpeedLimit: (1, 10)))
    }

    override func tearDown() {
        server?.stop()
        server = nil
    }

    func testPutGetAndDeleteBinaryValues() throws {
        XCTAssertTrue(try etcd.version().hasPrefix("3."))
        XCTAssertNil(try etcd.get("coreos.com/test/missing"))
        let bytes: [UInt8] = [0, 255, 10, 0x22, 0x5C]
        let first = try etcd.put("coreos.com/test/key", value: bytes)
        let stored = try XCTUnwrap(try etcd.get("coreos.com/test/key"))
        XCTAssertEqual(stored.value, bytes)
        XCTAssertEqual(stored.modRevision, first)
        let second = try etcd.put("coreos.com/test/key", value: Array("ünïcode".utf8))
        XCTAssertGreaterThan(second, first)
        XCTAssertEqual(try etcd.get("coreos.com/test/key")?.value, Array("ünïcode".utf8))
        XCTAssertEqual(try etcd.get("coreos.com/test/key")?.modRevision, second)
        XCTAssertTrue(try etcd.delete("coreos.com/test/key"))
        XCTAssertNil(try etcd.get("coreos.com/test/key"))
        XCTAssertFalse(try etcd.delete("coreos.com/test/key"))
        try etcd.put("coreos.com/test/empty", value: [])
        XCTAssertEqual(try etcd.get("coreos.com/test/empty")?.value, [], "an empty value is a value")
    }

    /// locksmithd's semaphore: created only if absent, then changed only by whoever read the
    /// current revision first.
    func testCompareAndSwapLetsExactlyOneOfTwoRacersWin() throws {
        let key = "coreos.com/updateengine/rebootlock/semaphore"
        let etcd = etcd!
        /// Each value's compare-and-swap, all started at once; who won.
        func race(expecting revision: Int64, _ values: [JSONValue]) -> [Bool] {
            final class Wins: @unchecked Sendable {
                let lock = NSLock()
                var won: [Bool]
                init(_ count: Int) { won = Array(repeating: false, count: count) }
            }
            let wins = Wins(values.count)
            DispatchQueue.concurrentPerform(iterations: values.count) { index in
                let won = (try? etcd.compareAndSwap(key, expectedModRevision: revision, newValue: values[index].serializedBytes)) ?? false
                wins.lock.withLock { wins.won[index] = won }
            }
            return wins.won
        }
        let empty: [JSONValue] = [["semaphore": 1, "max": 1, "holders": []], ["semaphore": 1, "max": 1, "holders": []]]
        XCTAssertEqual(race(expecting: 0, empty).filter { $0 }.count, 1, "only one creates the key")
        XCTAssertFalse(try etcd.compareAndSwap(key, expectedModRevision: 0, newValue: []), "it exists now")

        let current = try XCTUnwrap(try etcd.get(key))
        XCTAssertEqual(try JSONValue(parsing: current.value), ["semaphore": 1, "max": 1, "holders": []])
        let takers: [JSONValue] = [["semaphore": 0, "max": 1, "holders": ["machine-a"]], ["semaphore": 0, "max": 1, "holders": ["machine-b"]]]
        let wins = race(expecting: current.modRevision, takers)
        XCTAssertEqual(wins.filter { $0 }.count, 1, "exactly one takes the lock")
        let winner = takers[wins.firstIndex(of: true)!]
        XCTAssertEqual(try JSONValue(parsing: try XCTUnwrap(try etcd.get(key)).value), winner)
        XCTAssertFalse(try etcd.compareAndSwap(key, expectedModRevision: current.modRevision, newValue: []), "a stale revision loses")
    }

    func testAKeyOnALeaseThatIsNotKeptAliveDisappears() throws {
        let lease = try etcd.grantLease(ttl: 2)
        try etcd.put("coreos.com/test/leased", value: [1], lease: lease)
        XCTAssertNotNil(try etcd.get("coreos.com/test/leased"))
        // 30 s only bounds the wait; the lease's 2 s run out well before.
        XCTAssertTrue(try waitUntil(seconds: 30) { try self.etcd.get("coreos.com/test/leased") == nil })
        XCTAssertThrowsError(try etcd.keepAlive(lease)) {
            guard case .leaseNotFound(lease) = $0 as? EtcdError else { return XCTFail("\($0)") }
        }
    }

    func testKeepAliveKeepsTheKeyAndRevokeDeletesIt() throws {
        let lease = try etcd.grantLease(ttl: 2)
        try etcd.put("coreos.com/test/alive", value: [1], lease: lease)
        // Three TTLs' worth of keepalives, twice a second.
        for _ in 0..<12 {
            XCTAssertEqual(try etcd.keepAlive(lease), 2)
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertNotNil(try etcd.get("coreos.com/test/alive"), "kept alive past its TTL")
        try etcd.revoke(lease)
        XCTAssertNil(try etcd.get("coreos.com/test/alive"))
        XCTAssertThrowsError(try etcd.revoke(lease)) {
            guard case .server(_, _, let message) = $0 as? EtcdError else { return XCTFail("\($0)") }
            XCTAssertTrue(message.contains("lease not found"), message)
        }
    }

    func testEndpointsAreTriedInOrderUntilOneAnswers() throws {
        let dead = "http://127.0.0.1:\(try freePort())"
        let failingOver = EtcdClient(endpoints: [dead, server.endpoint], fetcher: etcd.fetcher)
        try failingOver.put("coreos.com/test/failover", value: [7])
        XCTAssertEqual(try failingOver.get("coreos.com/test/failover")?.value, [7])

        let unreachable = EtcdClient(endpoints: [dead, dead], fetcher: etcd.fetcher)
        XCTAssertThrowsError(try unreachable.get("x")) {
            guard case .unavailable(let failures) = $0 as? EtcdError else { return XCTFail("\($0)") }
            XCTAssertEqual(failures.count, 2)
        }
    }

    private func waitUntil(seconds: Double, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }
}
