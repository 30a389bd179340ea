import Omaha
import XCTest

final class XMLWriterTests: XCTestCase {
    func testEscapesAllFiveSpecialCharactersInAttributesAndText() {
        let element = XMLElement("a", ["v": "<&>\"'"], text: "<&>\"'")
        XCTAssertEqual(element.serialized(), """
            <?xml version="1.0" encoding="UTF-8"?>
            <a v="&lt;&amp;&gt;&quot;&apos;">&lt;&amp;&gt;&quot;&apos;</a>

            """)
    }

    func testWritesAttributesInInsertionOrderAndReplacesInPlace() {
        var element = XMLElement("package", ["name": "p", "size": "1", "required": "true"])
        element.setAttribute("size", to: "2")
        element.setAttribute("hash", to: "h")
        XCTAssertEqual(element.attributes.map(\.name), ["name", "size", "required", "hash"])
        XCTAssertTrue(element.serialized().hasSuffix("<package name=\"p\" size=\"2\" required=\"true\" hash=\"h\"></package>\n"))
    }

    /// What the reader would alter (line ends, tabs in attributes, indentation) is written so that
    /// reading gives back the same tree.
    func testWhatIsWrittenReadsBackAsTheSameTree() throws {
        let tree = XMLElement("response", ["server": "line\none\ttab\r"], children: [
            XMLElement("app", children: [XMLElement("note", text: "  spaced\r\nout  "), XMLElement("empty")]),
            XMLElement("mixed", children: [XMLElement("b", text: "bold")], text: "text "),
        ])
        XCTAssertEqual(try XMLDocument.parse(tree.serialized()), tree)
    }

    func testIndentsChildrenByTwoSpaces() {
        let tree = XMLElement("response", children: [XMLElement("app", children: [XMLElement("ping", ["status": "ok"])])])
        XCTAssertEqual(tree.serialized(), """
            <?xml version="1.0" encoding="UTF-8"?>
            <response>
              <app>
                <ping status="ok"></ping>
              </app>
            </response>

            """)
    }
}
