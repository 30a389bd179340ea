import Omaha
import UpdateServer
import XCTest

/// The server's rules, decided from a snapshot: what a machine is offered, how its events move an
/// update along, and when a group halts by itself.
final class UpdateDecisionTests: XCTestCase {
    let v2 = PublishedPayload(version: "1.2.4", fileName: "coreos_production_update.gz", size: 1000, sha1Base64: "c2hhMQ==",
                              sha256Base64: "c2hhMjU2", sha256Hex: String(repeating: "ab", count: 32), publishedAt: 100)
    var channel: Channel { Channel(name: "stable", publicKey: "", payload: v2) }
    let group = UpdateGroup(name: "stable", channel: "stable")
    let none = RolloutCounts(grantsInPeriod: 0, inProgress: 0)

    func checkIn(version: String = "1.2.3", asks: Bool = true, _ reports: [OmahaEvent] = []) -> CheckIn {
        CheckIn(machineID: "m1", version: version, group: "stable", board: "amd64-usr", address: "10.0.2.15",
                asksForUpdate: asks, reports: reports)
    }

    func decide(_ checkIn: CheckIn, existing: Instance? = nil, group: UpdateGroup? = nil, counts: RolloutCounts? = nil,
                now: Int64 = 1000) -> UpdateDecision {
        UpdateDecision.decide(checkIn, existing: existing, group: group ?? self.group, channel: channel,
                              counts: counts ?? none, now: now)
    }

    func testAnOlderMachineIsGrantedTheChannelsPayload() {
        let decision = decide(checkIn())
        XCTAssertEqual(decision.answer, .update(v2))
        XCTAssertEqual(decision.instance.status, .granted)
        XCTAssertEqual(decision.instance.grantedVersion, "1.2.4")
        XCTAssertEqual(decision.instance.grantedAt, 1000)
        XCTAssertTrue(decision.instance.updateInProgress)
    }

    func testTheSameOrANewerVersionIsNotOfferedAnything() {
        XCTAssertEqual(decide(checkIn(version: "1.2.4")).answer, .noUpdate)
        XCTAssertEqual(decide(checkIn(version: "1.10.0")).answer, .noUpdate, "versions compare as semver, not text")
        XCTAssertEqual(decide(checkIn(version: "1.2.4-rc.1")).answer, .update(v2), "a prerelease is older than its release")
    }

    func testAPausedOrHaltedGroupOffersNothing() {
        var paused = group
        paused.paused = true
        XCTAssertEqual(decide(checkIn(), group: paused).answer, .noUpdate)
        var halted = group
        halted.haltedReason = "a machine rolled back"
        XCTAssertEqual(decide(checkIn(), group: halted).answer, .noUpdate)
    }

    func testAnUnknownGroupIsAnOmahaErrorStatus() {
        let decision = UpdateDecision.decide(checkIn(), existing: nil, group: nil, channel: nil, counts: none, now: 1)
        XCTAssertEqual(decision.answer, .refused("error-unknownGroup"))
        XCTAssertEqual(decision.instance.machineID, "m1", "the machine is recorded all the same")
    }

    func testTheRolloutLimitHoldsMachinesBack() {
        var limited = group
        limited.policy = RolloutPolicy(maxUpdates: 2, periodSeconds: 3600, updateTimeoutSeconds: 600)
        XCTAssertEqual(decide(checkIn(), group: limited, counts: RolloutCounts(grantsInPeriod: 1, inProgress: 1)).answer, .update(v2))
        let perPeriod = decide(checkIn(), group: limited, counts: RolloutCounts(grantsInPeriod: 2, inProgress: 0))
        XCTAssertEqual(perPeriod.answer, .noUpdate)
        XCTAssertEqual(perPeriod.instance.status, .onHold)
        XCTAssertEqual(decide(checkIn(), group: limited, counts: RolloutCounts(grantsInPeriod: 0, inProgress: 2)).answer, .noUpdate)
    }

    func testEventsCarryAnUpdateToCompletion() {
        var instance = decide(checkIn()).instance
        instance = decide(checkIn(asks: false, [OmahaEvent(type: 13, result: 1)]), existing: instance).instance
        XCTAssertEqual(instance.status, .downloading)
        instance = decide(checkIn(asks: false, [OmahaEvent(type: 14, result: 1)]), existing: instance).instance
        XCTAssertEqual(instance.status, .downloaded)
        instance = decide(checkIn(asks: false, [OmahaEvent(type: 3, result: 1)]), existing: instance).instance
        XCTAssertEqual(instance.status, .installed)
        // While it waits for its reboot it asks again: the same grant, not a second one.
        let again = decide(checkIn(), existing: instance, now: 1500)
        XCTAssertEqual(again.answer, .update(v2))
        XCTAssertEqual(again.instance.grantedAt, 1000)
        let rebooted = decide(checkIn(version: "1.2.4", [OmahaEvent(type: 3, result: 2, previousVersion: "1.2.3")]),
                              existing: instance, now: 2000)
        XCTAssertEqual(rebooted.instance.status, .complete)
        XCTAssertEqual(rebooted.instance.previousVersion, "1.2.3")
        XCTAssertFalse(rebooted.instance.updateInProgress)
        XCTAssertEqual(rebooted.answer, .noUpdate)
        XCTAssertEqual(rebooted.events.map(\.sequence), [3], "one event before it each: 13, 14, 3/1")
        XCTAssertNil(rebooted.haltReason)
    }

    func testARollbackHaltsTheGroupAndIsNotOfferedTheUpdateAgain() {
        let granted = decide(checkIn()).instance
        // update_engine ORs flag bits into the code; 1 << 28 is "not the production server".
        let rollback = OmahaEvent(type: 3, result: 0, errorCode: 44 | 1 << 28)
        let decision = decide(checkIn([rollback]), existing: granted, now: 3000)
        XCTAssertEqual(decision.answer, .noUpdate)
        XCTAssertEqual(decision.instance.status, .error)
        XCTAssertFalse(decision.instance.updateInProgress)
        XCTAssertEqual(decision.haltReason, "machine m1 rolled back from 1.2.4 to 1.2.3 (error 44)")
        XCTAssertEqual(decision.events.first?.errorCode, 44 | 1 << 28, "stored as reported")
    }

    func testAFailedInstallHaltsTheGroup() {
        let granted = decide(checkIn()).instance
        let failed = decide(checkIn(asks: false, [OmahaEvent(type: 3, result: 0, errorCode: 10)]), existing: granted)
        XCTAssertEqual(failed.haltReason, "machine m1 failed to install 1.2.4 (error 10)")
        XCTAssertEqual(failed.instance.status, .error)
    }

    func testAnErrorWithNothingInProgressIsStoredButChangesNothing() {
        let idle = decide(checkIn(version: "1.2.4")).instance
        let decision = decide(checkIn(version: "1.2.4", asks: false, [OmahaEvent(type: 3, result: 0, errorCode: 10)]), existing: idle)
        XCTAssertNil(decision.haltReason)
        XCTAssertEqual(decision.events.count, 1)
        XCTAssertEqual(decision.instance.status, idle.status)
    }

    func testRoutineChecksAreNotStoredAsEvents() {
        let decision = decide(checkIn([OmahaEvent(type: 3, result: 2, previousVersion: "")]))
        XCTAssertTrue(decision.events.isEmpty)
        XCTAssertEqual(decision.instance.eventCount, 0)
    }

    func testAnUpdateNobodyHeardOfWithinTheTimeoutIsGrantedAfresh() {
        var limited = group
        limited.policy = RolloutPolicy(maxUpdates: 5, periodSeconds: 60, updateTimeoutSeconds: 600)
        let granted = decide(checkIn(), group: limited, now: 1000).instance
        let later = decide(checkIn(), existing: granted, group: limited, now: 1000 + 601)
        XCTAssertEqual(later.answer, .update(v2))
        XCTAssertEqual(later.instance.grantedAt, 1601)
    }
}
