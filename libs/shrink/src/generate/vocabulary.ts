/**
 * Word lists for the generated dataset. Names are deliberately diverse (accents,
 * apostrophes, particles, double-barrelled surnames) because a scrubber has to
 * find them in free text; no domain here is reserved for pseudonyms
 * (example.*, *.test, *.invalid, *.example).
 */

export const firstNames = [
  "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella", "James",
  "Charlotte", "Lucas", "Mia", "Mateo", "Harper", "Ethan", "Evelyn", "Aiden", "Abigail", "Henry",
  "José", "François", "Zoë", "Søren", "Chloé", "Björn", "Łukasz", "Siobhán", "Anaïs", "René",
  "Andrés", "Renée", "Jürgen", "Ólafur", "Małgorzata", "Çağla", "Priya", "Wei", "Aiko", "Oluwaseun",
  "Fatima", "Mohammed", "Thandiwe", "Kwame", "Ngozi", "Hiroshi", "Yuki", "Dmitri", "Ivana", "João",
  "Sebastián", "Ingrid", "Astrid", "Niamh", "Aoife", "Seán", "Léa", "Matthias", "Sofía", "Lucía",
  "Giulia", "Alessandro", "Francesca", "Mehmet", "Elif", "Ravi", "Ananya", "Arjun", "Mei", "Jian",
  "Hana", "Minji", "Jae-won", "Thi Thu", "Minh", "Ayşe", "Nikolaos", "Eleni", "Kateřina", "Tomáš",
  "Zsófia", "Bence", "Agnieszka", "Piotr", "Lars", "Freja", "Mikkel", "Saoirse", "Dolores", "Carmen",
  "Marie-Claire", "Jean-Luc", "Anne-Sophie", "Hélène", "Gaëlle", "Maëlys", "Noé", "Inês", "Gonçalo", "Beatriz",
] as const;

export const lastNames = [
  "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
  "García", "Müller", "O'Brien", "Nguyễn", "Kowalski", "Rossi", "Dubois", "Jensen", "Yamamoto", "Okafor",
  "Patel", "Kim", "Silva", "Hernández", "Schröder", "Núñez", "van der Berg", "Al-Sayed", "Lefèvre", "Øvergaard",
  "Björk", "Papadopoulos", "Ivanova", "Chen", "Haddad", "Mensah", "Fernández-López", "MacDonald", "Ó Súilleabháin", "Schmidt",
  "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Lambert", "Moreau", "Girard", "Bonnet", "Rousseau",
  "Bianchi", "Romano", "Colombo", "Esposito", "Sánchez", "Martínez", "Gómez", "Pereira", "Costa", "Oliveira",
  "Nakamura", "Tanaka", "Suzuki", "Watanabe", "Wang", "Li", "Zhang", "Liu", "Park", "Choi",
  "Singh", "Kumar", "Sharma", "Gupta", "Adeyemi", "Osei", "Abubakar", "Mbeki", "Dlamini", "Haile",
  "Novák", "Dvořák", "Nagy", "Horváth", "Wiśniewski", "Lewandowski", "Andersson", "Johansson", "Nieminen", "Korhonen",
  "Murphy", "Kelly", "Byrne", "O'Connor", "Walsh", "de la Cruz", "D'Angelo", "St. John", "Van Dyke", "Kovačević",
] as const;

/** Mailbox providers people sign up with (none reserved for pseudonyms). */
export const freemailDomains = [
  "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "yahoo.com", "yahoo.fr",
  "icloud.com", "me.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de", "t-online.de",
  "orange.fr", "free.fr", "laposte.net", "libero.it", "btinternet.com", "sky.com", "shaw.ca", "bigpond.com",
  "ziggo.nl", "fastmail.com", "aol.com", "zoho.com", "telefonica.net", "seznam.cz",
] as const;

export const companyStems = [
  "Northwind", "Blue Harbor", "Kestrel", "Brightline", "Fjord", "Sonnenberg", "Atlas", "Meridian", "Copperleaf", "Lumen",
  "Halcyon", "Redwood", "Vertex", "Ironbridge", "Silverpine", "Oakridge", "Polaris", "Tidewater", "Evergreen", "Solaria",
  "Nordlicht", "Bellevue", "Castellana", "Marigold", "Greystone", "Harborview", "Sakura", "Andes", "Kilimanjaro", "Alder",
  "Bluebird", "Cobalt", "Driftwood", "Ember", "Foxglove", "Granite", "Heron", "Juniper", "Lighthouse", "Magnolia",
  "Nimbus", "Orchard", "Pinnacle", "Quarry", "Riverbend", "Saffron", "Thistle", "Umber", "Willow", "Zephyr",
  "Acme", "Globex", "Stark & Sons", "Brandt", "Lindqvist", "Moreau Frères", "Ōtsuka", "Côté", "Müller & Weiß", "Sørensen",
] as const;

export const companySectors = [
  "Logistics", "Analytics", "Dental", "Realty", "Foods", "Labs", "Partners", "Consulting", "Robotics", "Apparel",
  "Energy", "Capital", "Health", "Media", "Software", "Interiors", "Brewing", "Motors", "Solar", "Insurance",
  "Legal", "Architects", "Travel", "Fitness", "Pharma", "Textiles", "Marine", "Aerospace", "Bakery", "Studios",
] as const;

export const industries = [
  "Manufacturing", "Healthcare", "SaaS", "Retail", "Financial Services", "Education", "Real Estate", "Hospitality",
  "Logistics", "Energy", "Legal", "Non-profit", "Construction", "Automotive", "Media & Entertainment", "Agriculture",
] as const;

export const jobTitles = [
  "CEO", "CTO", "Head of Sales", "VP Marketing", "Procurement Manager", "Office Manager", "IT Director", "Founder",
  "Operations Lead", "Marketing Coordinator", "CFO", "Product Manager", "Geschäftsführer", "Directrice commerciale",
] as const;

export const leadStatuses = ["new", "contacted", "qualified", "proposal", "negotiation", "won", "lost", "nurture"] as const;

export const leadSources = ["web-form", "import", "api", "referral", "linkedin", "trade-show", "webinar", "cold-call", "partner"] as const;

export const userRoles = ["admin", "sales", "sales", "sales", "manager", "support", "viewer"] as const;

export const utmSources = ["google", "linkedin", "newsletter", "facebook", "bing", "capterra", "g2", "partner-site"] as const;
export const utmMediums = ["cpc", "email", "social", "organic", "referral", "display"] as const;
export const utmCampaigns = ["spring-promo", "q3-webinar", "brand", "retargeting", "launch-2024", "black-friday", "emea-expansion"] as const;

export const tags = ["hot", "enterprise", "smb", "follow-up", "decision-maker", "budget-approved", "competitor-user", "event", "inbound", "renewal"] as const;

export const tradeShows = ["SaaStr Annual", "Web Summit", "Dreamforce", "CeBIT", "VivaTech", "the Hannover Messe", "a local meetup"] as const;

export const userAgents = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.97",
  "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
] as const;

export const emailClients = ["Gmail", "Apple Mail", "Outlook", "Outlook Web", "Thunderbird", "Yahoo Mail"] as const;

export const integrationVendors = ["salesforce", "hubspot", "mailchimp", "stripe", "slack", "zapier", "twilio", "segment"] as const;

export const auditActions = [
  "login", "login", "login", "export_leads", "update_lead", "delete_lead", "invite_user", "change_plan",
  "update_integration", "reset_password", "bulk_import", "change_role",
] as const;

/** The global reference table. */
export const countries: readonly (readonly [code: string, name: string])[] = [
  ["US", "United States"], ["CA", "Canada"], ["GB", "United Kingdom"], ["IE", "Ireland"], ["DE", "Germany"],
  ["AT", "Austria"], ["CH", "Switzerland"], ["FR", "France"], ["BE", "Belgium"], ["NL", "Netherlands"],
  ["ES", "Spain"], ["PT", "Portugal"], ["IT", "Italy"], ["SE", "Sweden"], ["NO", "Norway"],
  ["DK", "Denmark"], ["FI", "Finland"], ["PL", "Poland"], ["CZ", "Czechia"], ["AU", "Australia"],
  ["NZ", "New Zealand"], ["JP", "Japan"], ["SG", "Singapore"], ["IN", "India"], ["BR", "Brazil"],
];

/** Where leads live: phone and postal conventions per country. */
export interface Locale {
  country: string;
  countryName: string;
  tld: string;
  legalSuffixes: readonly string[];
  cities: readonly (readonly [city: string, zipPrefix: string])[];
  streets: readonly string[];
}

export const locales: readonly (readonly [Locale, number])[] = [
  [
    {
      country: "US", countryName: "United States", tld: "com", legalSuffixes: ["Inc.", "LLC", "Corp.", "Co."],
      cities: [["San Francisco", "941"], ["New York", "100"], ["Austin", "787"], ["Seattle", "981"], ["Chicago", "606"], ["Boston", "021"], ["Denver", "802"], ["Atlanta", "303"]],
      streets: ["Market St", "Mission St", "Broadway", "Elm Street", "Maple Ave", "Congress Ave", "Pine Street", "Lakeshore Dr", "Peachtree Rd", "Oak Lane"],
    },
    50,
  ],
  [
    {
      country: "GB", countryName: "United Kingdom", tld: "co.uk", legalSuffixes: ["Ltd", "PLC", "LLP"],
      cities: [["London", "SW1"], ["Manchester", "M1"], ["Bristol", "BS1"], ["Edinburgh", "EH2"], ["Leeds", "LS1"]],
      streets: ["King's Road", "High Street", "Baker Street", "Deansgate", "Royal Mile", "Church Lane", "Victoria Road"],
    },
    12,
  ],
  [
    {
      country: "DE", countryName: "Germany", tld: "de", legalSuffixes: ["GmbH", "AG", "GmbH & Co. KG"],
      cities: [["Berlin", "10"], ["München", "80"], ["Hamburg", "20"], ["Köln", "50"], ["Frankfurt am Main", "60"], ["Düsseldorf", "40"]],
      streets: ["Hauptstraße", "Schillerstraße", "Goethestraße", "Bahnhofstraße", "Königsallee", "Friedrichstraße", "Lindenweg"],
    },
    12,
  ],
  [
    {
      country: "FR", countryName: "France", tld: "fr", legalSuffixes: ["SAS", "SARL", "SA"],
      cities: [["Paris", "750"], ["Lyon", "690"], ["Marseille", "130"], ["Toulouse", "310"], ["Bordeaux", "330"]],
      streets: ["rue de la Paix", "avenue des Champs-Élysées", "rue Saint-Honoré", "boulevard Haussmann", "rue de la République", "quai des Chartrons"],
    },
    8,
  ],
  [
    {
      country: "CA", countryName: "Canada", tld: "ca", legalSuffixes: ["Inc.", "Ltd.", "Corp."],
      cities: [["Toronto", "M5H"], ["Vancouver", "V6B"], ["Montréal", "H3B"], ["Calgary", "T2P"]],
      streets: ["Queen St W", "Granville St", "Rue Sainte-Catherine", "Yonge St", "Bay Street"],
    },
    6,
  ],
  [
    {
      country: "AU", countryName: "Australia", tld: "com.au", legalSuffixes: ["Pty Ltd"],
      cities: [["Sydney NSW", "2"], ["Melbourne VIC", "3"], ["Brisbane QLD", "4"]],
      streets: ["George St", "Collins St", "Queen St", "Pitt St", "Flinders Lane"],
    },
    4,
  ],
  [
    {
      country: "NL", countryName: "Netherlands", tld: "nl", legalSuffixes: ["B.V.", "N.V."],
      cities: [["Amsterdam", "10"], ["Rotterdam", "30"], ["Utrecht", "35"], ["Den Haag", "25"]],
      streets: ["Keizersgracht", "Prinsengracht", "Coolsingel", "Oudegracht", "Lange Voorhout"],
    },
    4,
  ],
  [
    {
      country: "ES", countryName: "Spain", tld: "es", legalSuffixes: ["S.L.", "S.A."],
      cities: [["Madrid", "28"], ["Barcelona", "08"], ["Valencia", "46"], ["Sevilla", "41"]],
      streets: ["Calle de Alcalá", "Passeig de Gràcia", "Gran Vía", "Calle Mayor", "Avenida de la Constitución"],
    },
    4,
  ],
];

/** What we call ourselves: internal orgs belong to the vendor of the lead-management product. */
export const vendorCompany = { name: "Pipewise", domain: "pipewise.io" } as const;
