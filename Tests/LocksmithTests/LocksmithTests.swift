import Etcd
import Foundation
import Synchronization
@testable import Locksmith
import TestSupport
import XCTest

/// Reboot strategies, windows and the semaphore's arithmetic; the semaphore in a real etcd 3.4.
final class RebootPolicyTests: XCTestCase {
    func testStrategiesAsLocksmithNamesThem() throws {
        XCTAssertEqual(try RebootStrategy(setting: nil), .reboot, "empty means reboot")
        XCTAssertEqual(try RebootStrategy(setting: ""), .reboot)
        XCTAssertEqual(try RebootStrategy(setting: "etcd-lock"), .etcdLock)
        XCTAssertEqual(try RebootStrategy(setting: "off"), .off)
        XCTAssertThrowsError(try RebootStrategy(setting: "best-effort")) { error in
            XCTAssertTrue("\(error)".contains("best-effort"), "\(error)")
        }
    }

    func testWindowsParseAsLocksmithsAndBadOnesSayWhy() throws {
        XCTAssertNil(try RebootWindow.parse(start: nil, length: nil))
        XCTAssertEqual(try RebootWindow.parse(start: "Thu 23:00", length: "1h30m"), RebootWindow(weekday: 4, hour: 23, minute: 0, length: 5400))
        XCTAssertEqual(try RebootWindow.parse(start: "0:0", length: "90m"), RebootWindow(weekday: nil, hour: 0, minute: 0, length: 5400))
        XCTAssertEqual(try RebootWindow.parse(start: "04:00", length: "0"), RebootWindow(weekday: nil, hour: 4, minute: 0, length: 0))
        for (start, length, reason) in [("04:00", nil, "both"), ("24:00", "1h", "hour 0-23"), ("Xyz 04:00", "1h", "not a day"),
                                        ("Mon 04:00 extra", "1h", "[Day ]HH:MM"), ("04:00", "1d", "not a duration"),
                                        ("04:00", "24h", "shorter than 24h"), ("Mon 04:00", "168h", "shorter than 7 days")] {
            XCTAssertThrowsError(try RebootWindow.parse(start: start, length: length), start) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(start) \(length ?? "-"): \(error)")
            }
        }
    }

    /// In UTC: 2026-12-03 is a Thursday.
    func testTheWaitIsZeroInsideTheWindowAndUntilItsNextStartOutside() throws {
        setenv("TZ", "UTC", 1)
        tzset()
        let thursday2330 = time_t(1_796_340_600)  // 2026-12-03 23:30 UTC
        let weekly = try XCTUnwrap(RebootWindow.parse(start: "Thu 23:00", length: "1h30m"))
        XCTAssertEqual(weekly.wait(from: thursday2330), 0)
        XCTAssertEqual(weekly.wait(from: thursday2330 + 3600), 0, "Friday 00:30 is the window's last moment")
        XCTAssertEqual(weekly.wait(from: thursday2330 + 3660), 7 * 86400 - 5460, "a minute later: next Thursday 23:00")
        let daily = try XCTUnwrap(RebootWindow.parse(start: "04:00", length: "1h"))
        XCTAssertEqual(daily.wait(from: thursday2330), 4 * 3600 + 1800, "Friday 04:00")
        XCTAssertEqual(daily.wait(from: thursday2330 + 5 * 3600), 0, "04:30 is inside")
    }

    func testTheSemaphoreCountsSlotsAndKeepsHoldersSorted() throws {
        let free = RebootSemaphore(semaphore: 2, max: 2)
        let two = try free.locked(by: "b").locked(by: "a")
        XCTAssertEqual(two, RebootSemaphore(semaphore: 0, max: 2, holders: ["a", "b"]))
        XCTAssertThrowsError(try two.locked(by: "c")) { XCTAssertEqual($0 as? RebootSemaphore.Refusal, .full(0)) }
        XCTAssertThrowsError(try two.locked(by: "a")) { XCTAssertEqual($0 as? RebootSemaphore.Refusal, .alreadyHeld("a")) }
        XCTAssertThrowsError(try free.unlocked(by: "a")) { XCTAssertEqual($0 as? RebootSemaphore.Refusal, .notHeld("a")) }
        XCTAssertEqual(two.withMax(1), RebootSemaphore(semaphore: -1, max: 1, holders: ["a", "b"]), "set-max leaves holders alone")
        XCTAssertEqual(String(decoding: two.json, as: UTF8.self), #"{"semaphore":0,"max":2,"holders":["a","b"]}"#)
        XCTAssertEqual(try RebootSemaphore(json: Array(#"{"semaphore":1,"max":1,"holders":null}"#.utf8)), RebootSemaphore(), "locksmith's own initial JSON")
        XCTAssertThrowsError(try RebootSemaphore(json: Array(#"{"semaphore":"1","max":1}"#.utf8)))
        XCTAssertEqual(RebootSemaphore.key(group: "web servers/eu"), "coreos.com/updateengine/rebootlock/groups/web+servers%2Feu/semaphore")
    }
}

final class EtcdRebootLockTests: XCTestCase {
    var etcd: EtcdTestServer!

    override func setUpWithError() throws { etcd = try EtcdTestServer() }
    override func tearDown() { etcd.stop() }

    func lock(ttl: Int = 1800) -> EtcdRebootLock { EtcdRebootLock(client: EtcdClient(endpoints: [etcd.endpoint]), leaseTTL: ttl) }

    func testAtMostMaxMachinesHoldTheLockWhenTheyAllTryAtOnce() throws {
        _ = try lock().setMax(2)
        let machines = (0..<6).map { "machine-\($0)" }
        let won = Mutex<[String]>([])
        let endpoint = etcd.endpoint
        DispatchQueue.concurrentPerform(iterations: machines.count) { index in
            let lock = EtcdRebootLock(client: EtcdClient(endpoints: [endpoint]))
            if (try? lock.lock(machines[index])) != nil { won.withLock { $0.append(machines[index]) } }
        }
        let holders = try lock().read().semaphore
        XCTAssertEqual(won.withLock { $0.count }, 2)
        XCTAssertEqual(holders.holders, won.withLock { $0.sorted() })
        XCTAssertEqual(holders.semaphore, 0)
        let raw = try XCTUnwrap(try EtcdClient(endpoints: [etcd.endpoint]).get(RebootSemaphore.key))
        XCTAssertTrue(String(decoding: raw.value, as: UTF8.self).hasPrefix(#"{"semaphore":0,"max":2,"holders":["#), "locksmith's JSON in etcd")
    }

    func testAHolderThatNeverComesBackLosesItsSlotWhenItsLeaseRunsOut() throws {
        try lock(ttl: 2).lock("gone")
        XCTAssertThrowsError(try lock().lock("waiting"), "the slot is taken while the lease lives")
        Thread.sleep(forTimeInterval: 4)
        try lock().lock("waiting")
        XCTAssertEqual(try lock().read().semaphore.holders, ["waiting"])
    }

    func testAHolderThatKeepsItsLeaseAliveKeepsItsSlotAndUnlockGivesItBack() throws {
        let holder = lock(ttl: 2)
        try holder.lock("alive")
        for _ in 0..<4 {
            Thread.sleep(forTimeInterval: 1)
            try holder.refresh("alive")
        }
        XCTAssertThrowsError(try lock().lock("waiting"))
        try holder.unlock("alive")
        try holder.unlock("alive")
        try lock().lock("waiting")
        XCTAssertEqual(try lock().read().semaphore, RebootSemaphore(semaphore: 0, max: 1, holders: ["waiting"]))
    }
}
