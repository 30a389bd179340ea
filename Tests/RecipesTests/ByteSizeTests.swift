import XCTest
@testable import Recipes

final class ByteSizeTests: XCTestCase {
    func testAcceptedSizes() throws {
        let table: [(String, UInt64)] = [
            ("512", 512), ("4096", 4096), ("512KiB", 512 << 10), ("128MiB", 128 << 20), ("2GiB", 2 << 30),
            ("2162MiB", 2162 << 20), ("1TiB", 1 << 40), ("1KiB", 1024),
        ]
        for (text, bytes) in table {
            XCTAssertEqual(try ByteSize.parse(text), bytes, text)
        }
    }

    func testRefusedSizesSayWhatIsAllowed() {
        let table: [(String, String)] = [
            ("1.5GiB", "'1.5GiB' is not a size: write a whole number of bytes, or a whole number followed by KiB, MiB, GiB, TiB"),
            ("10MB", "unknown unit 'MB' in size '10MB': use KiB, MiB, GiB, TiB (powers of 1024), or no unit for bytes"),
            ("10mib", "unknown unit 'mib'"),
            ("MiB", "'MiB' is not a size"),
            ("-512", "'-512' is not a size"),
            ("128 MiB", "'128 MiB' is not a size"),
            ("", "'' is not a size"),
            ("0", "size '0' must be positive"),
            ("1000", "size '1000' is not a multiple of 512 bytes"),
            ("1KiB1", "unknown unit 'KiB1'"),
            ("99999999999TiB", "size '99999999999TiB' is too large"),
            ("99999999999999999999", "is too large"),
        ]
        for (text, message) in table {
            XCTAssertThrowsError(try ByteSize.parse(text), text) { error in
                let said = (error as? InvalidValue)?.message ?? "\(error)"
                XCTAssertTrue(said.contains(message), "\(text): '\(said)' lacks '\(message)'")
            }
        }
    }
}
