import Omaha
import XCTest

/// The order the server offers updates in (update-agent.md §4.3 item 4).
final class SemanticVersionTests: XCTestCase {
    /// semver.org §11's example, then CoreOS-style versions.
    func testOrdersBySemverPrecedence() throws {
        let ascending = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
                         "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "3999.1.0", "4000.0.0", "4000.0.1", "4000.10.0"]
        let versions = try ascending.map { try XCTUnwrap(SemanticVersion($0), $0) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            XCTAssertLessThan(lower, higher)
            XCTAssertFalse(higher < lower, "\(higher) < \(lower)")
        }
        XCTAssertEqual(versions.reversed().sorted(), versions)
    }

    func testBuildMetadataIsIgnored() throws {
        let built = try XCTUnwrap(SemanticVersion("4000.0.0+2024-06-01.build.7"))
        XCTAssertEqual(built, SemanticVersion("4000.0.0"))
        XCTAssertEqual(Set([built, SemanticVersion(major: 4000, minor: 0, patch: 0)]).count, 1)
        XCTAssertEqual(built.description, "4000.0.0+2024-06-01.build.7")
        XCTAssertEqual(SemanticVersion("1.0.0-rc.1+b")?.prerelease, [.alphanumeric("rc"), .numeric(1)])
    }

    /// Strict, as blang/semver's Make is: Nebraska would find no version in any of these.
    func testRefusesWhatIsNotSemver() {
        for text in ["1.2", "1", "v1.2.3", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b", "1.2.3-ä",
                     "-1.2.3", "+1.2.3", "1.2.3 ", "", "18446744073709551616.0.0", "garbage"] {
            XCTAssertNil(SemanticVersion(text), text)
        }
        XCTAssertEqual(SemanticVersion("1.2.3-0a.01b+001")?.description, "1.2.3-0a.01b+001", "leading zeros are fine in text identifiers")
    }

    /// An unreadable client version counts as 0.0.0, so the client is offered the update.
    func testLenientReadsGarbageAsZero() {
        let zero = SemanticVersion(major: 0, minor: 0, patch: 0)
        XCTAssertEqual(SemanticVersion.lenient("garbage"), zero)
        XCTAssertEqual(SemanticVersion.lenient("1.2"), zero)
        XCTAssertEqual(SemanticVersion.lenient("4000.0.0"), SemanticVersion(major: 4000, minor: 0, patch: 0))
        XCTAssertLessThan(SemanticVersion.lenient("ForcedUpdate"), SemanticVersion.lenient("0.0.1"))
    }
}
