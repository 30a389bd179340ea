import XCTest

final class PlaceholderOmahaTests: XCTestCase {}
