import Core
import Crypto
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The console's languages: one JSON file of translations per language in `Templates/i18n/`.
package struct Translations: Sendable {
    package static let languages = ["zh", "en"]
    package let tables: [String: [String: String]]

    package static func load(from directory: String) throws -> Translations {
        var tables: [String: [String: String]] = [:]
        for lang in languages {
            let path = directory + "i18n/\(lang).json"
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("missing translations \(path)") }
            tables[lang] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return Translations(tables: tables)
    }

    package func table(_ lang: String) -> [String: String] { tables[lang] ?? tables["en"] ?? [:] }
}

extension Application {
    private struct TranslationsKey: StorageKey { typealias Value = Translations }
    package var translations: Translations {
        get { storage[TranslationsKey.self] ?? Translations(tables: [:]) }
        set { storage[TranslationsKey.self] = newValue }
    }
}

extension Request {
    /// The user's language: the `lang` cookie if set, else `Accept-Language` (Chinese when it
    /// prefers any zh variant), else Chinese.
    package var language: String {
        if let c = cookies["lang"]?.string, Translations.languages.contains(c) { return c }
        let accept = headers.first(name: .acceptLanguage)?.lowercased() ?? ""
        let first = accept.split(separator: ",").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        if first.hasPrefix("en") { return "en" }
        return "zh"
    }

    package func tr(_ key: String) -> String { application.translations.table(language)[key] ?? key }

    /// Behind TLS (directly or through a proxy that says so), cookies are marked Secure.
    package var isSecure: Bool { url.scheme == "https" || headers.first(name: "X-Forwarded-Proto") == "https" }
}
