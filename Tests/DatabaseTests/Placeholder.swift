import XCTest

final class PlaceholderDatabaseTests: XCTestCase {}
