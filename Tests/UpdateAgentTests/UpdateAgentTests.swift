import UpdateAgent
import XCTest

/// What the in-image update engine reads and when it checks, by the originals' rules.
final class UpdateAgentTests: XCTestCase {
    func testTheFirstFileThatSetsAKeyWins() {
        let files = [
            "/etc/coreos/update.conf": "# written by cloud-config\nSERVER=http://10.0.2.2:8080/v1/update/\nGROUP=\"beta\"\n",
            "/usr/share/coreos/update.conf": "GROUP=stable\nSERVER=https://public.example/v1/update/\n",
            "/usr/share/coreos/release": "COREOS_RELEASE_VERSION=1.2.3\nCOREOS_RELEASE_BOARD=amd64-usr\n",
        ]
        let configuration = UpdateConfiguration.load(os: "coreos") { files[$0] }
        XCTAssertEqual(configuration.server, "http://10.0.2.2:8080/v1/update/")
        XCTAssertEqual(configuration.group, "beta", "quotes are removed")
        XCTAssertEqual(configuration.version, "1.2.3")
        XCTAssertEqual(configuration.board, "amd64-usr")
        XCTAssertEqual(configuration.appID, "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}", "CoreOS's app id unless the release sets one")
        XCTAssertEqual(configuration.warnings, [])
    }

    func testDefaultsAndBadLines() {
        let configuration = UpdateConfiguration.load(os: "coreos") {
            $0 == "/usr/share/coreos/update.conf" ? "GROUP=\nthis is not a setting\n=x\n" : nil
        }
        XCTAssertNil(configuration.server, "nothing to check against")
        XCTAssertEqual(configuration.group, "stable")
        XCTAssertEqual(configuration.warnings, ["/usr/share/coreos/update.conf:2: not KEY=VALUE, ignored",
                                                "/usr/share/coreos/update.conf:3: not KEY=VALUE, ignored"])
    }

    func testChecksComeAt420And2700SecondsGiveOrTake300() {
        var random = SystemRandomNumberGenerator()
        var schedule = CheckSchedule()
        for _ in 0..<200 {
            XCTAssertTrue((120...720).contains(Int(schedule.first(using: &random))))
            XCTAssertTrue((2400...3000).contains(Int(schedule.next(after: .answered(pollInterval: nil), using: &random))))
        }
    }

    func testServerBusyDoublesTheIntervalUpToFourHours() {
        var random = SystemRandomNumberGenerator()
        var schedule = CheckSchedule()
        _ = schedule.next(after: .answered(pollInterval: nil), using: &random)
        var intervals: [Int] = []
        for _ in 0..<5 {
            _ = schedule.next(after: .serverBusy, using: &random)
            intervals.append(schedule.lastInterval)
        }
        XCTAssertEqual(intervals, [5400, 10800, 14400, 14400, 14400])
        let wait = schedule.next(after: .serverBusy, using: &random)
        XCTAssertTrue((7200...21600).contains(Int(wait)), "± half the interval")
        XCTAssertTrue((2400...3000).contains(Int(schedule.next(after: .answered(pollInterval: nil), using: &random))),
                      "an answer brings the normal interval back")
    }

    func testAServersPollIntervalIsClampedTo2700Through14400() {
        var random = SystemRandomNumberGenerator()
        var schedule = CheckSchedule()
        _ = schedule.next(after: .answered(pollInterval: 60), using: &random)
        XCTAssertEqual(schedule.lastInterval, 2700)
        _ = schedule.next(after: .answered(pollInterval: 100_000), using: &random)
        XCTAssertEqual(schedule.lastInterval, 14400)
        _ = schedule.next(after: .answered(pollInterval: 6000), using: &random)
        XCTAssertEqual(schedule.lastInterval, 6000)
    }

    func testAScaledScheduleKeepsItsShape() {
        var random = SystemRandomNumberGenerator()
        let schedule = CheckSchedule(scale: 60)
        XCTAssertTrue((2...12).contains(schedule.first(using: &random)), "420 ± 300 s become 7 ± 5 s")
    }

    func testStatusLinesAreTheOriginals() {
        let report = StatusReport(lastCheckedTime: 1_700_000_000, progress: 0.25, status: .downloading,
                                  newVersion: "1.2.4", newSize: 192_477_083)
        XCTAssertEqual(report.lines, """
            LAST_CHECKED_TIME=1700000000
            PROGRESS=0.250000
            CURRENT_OP=UPDATE_STATUS_DOWNLOADING
            NEW_VERSION=1.2.4
            NEW_SIZE=192477083

            """)
        XCTAssertEqual(StatusReport(lines: report.lines), report)
        XCTAssertEqual(StatusReport().lines.split(separator: "\n")[1], "PROGRESS=0.000000")
        XCTAssertNil(StatusReport(lines: "CURRENT_OP=UPDATE_STATUS_IDLE\n"))
    }
}
