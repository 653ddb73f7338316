/**
 * Built-in words for realistic fakes. ASCII only: the names also make up
 * pseudonymous email local parts. Any edit, even an append, changes which word
 * a hash picks, so every pseudonym and every snapshot chunk would change:
 * treat the lists as frozen.
 */

export const FIRST_NAMES: readonly string[] = [
  "Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Alan", "Alice", "Amara", "Amelia", "Ana",
  "Andre", "Andrew", "Angela", "Anita", "Anton", "Arjun", "Astrid", "Ava", "Ben", "Bianca",
  "Boris", "Brenda", "Bruno", "Caleb", "Camila", "Carla", "Carlos", "Carmen", "Chen", "Chloe",
  "Clara", "Colin", "Dalia", "Daniel", "Daria", "David", "Diego", "Dmitri", "Elena", "Eli",
  "Elif", "Emeka", "Emil", "Emma", "Erik", "Esther", "Ethan", "Fatima", "Felix", "Fiona",
  "Gabriel", "Grace", "Hana", "Hannah", "Hassan", "Hector", "Helen", "Henrik", "Hugo", "Ian",
  "Ines", "Irene", "Isaac", "Ivan", "Jack", "Jade", "James", "Jana", "Javier", "Julia",
  "Kai", "Karim", "Kate", "Kenji", "Kira", "Lara", "Leo", "Liam", "Lina", "Lucas",
  "Lucia", "Luis", "Maya", "Marco", "Maria", "Mateo", "Mei", "Mia", "Milan", "Mina",
  "Nadia", "Naomi", "Nikhil", "Nina", "Noah", "Nora", "Olga", "Omar", "Oscar", "Paula",
  "Pedro", "Priya", "Rafael", "Rania", "Ravi", "Rosa", "Ruth", "Samir", "Sara", "Sean",
  "Sofia", "Sven", "Tara", "Theo", "Tomas", "Uma", "Victor", "Vera", "Wei", "Yara",
  "Yusuf", "Zara", "Zoe", "Ingrid", "Jonas", "Leila", "Mateus", "Noor", "Oliver", "Pia",
];

export const LAST_NAMES: readonly string[] = [
  "Abbott", "Acosta", "Adams", "Ahmed", "Alvarez", "Andersen", "Arnold", "Bailey", "Baker", "Banerjee",
  "Barnes", "Becker", "Bell", "Bennett", "Berg", "Blake", "Brooks", "Castro", "Chandra", "Chavez",
  "Cohen", "Cole", "Cruz", "Dahl", "Das", "Diaz", "Dubois", "Duncan", "Eriksen", "Evans",
  "Farouk", "Fernandez", "Fischer", "Fleming", "Foster", "Fox", "Garcia", "Gill", "Gomez", "Gordon",
  "Graham", "Grant", "Gupta", "Hale", "Hansen", "Hayes", "Herrera", "Hoffman", "Holm", "Hughes",
  "Ibrahim", "Iyer", "Jansen", "Jensen", "Kaur", "Keller", "Khan", "Kim", "Klein", "Kowalski",
  "Kruger", "Lambert", "Larsen", "Lee", "Lindqvist", "Lopez", "Mahler", "Marsh", "Martin", "Mendez",
  "Meyer", "Molina", "Moreau", "Morgan", "Murphy", "Nakamura", "Nguyen", "Nielsen", "Novak", "Okafor",
  "Olsen", "Ortiz", "Park", "Patel", "Pereira", "Petrov", "Quinn", "Ramos", "Reyes", "Richter",
  "Rivera", "Rossi", "Ruiz", "Sato", "Schmidt", "Shah", "Silva", "Singh", "Sokolov", "Stone",
  "Suzuki", "Tanaka", "Torres", "Vargas", "Vogel", "Wagner", "Walsh", "Weber", "Wolf", "Yilmaz",
  "Young", "Zhang", "Zimmer", "Haddad", "Moreno", "Lindgren", "Osei", "Varga", "Horvath", "Kovacs",
];

export const COMPANY_WORDS: readonly string[] = [
  "Amber", "Apex", "Arc", "Aspen", "Atlas", "Azure", "Beacon", "Birch", "Blue", "Bright",
  "Cedar", "Clear", "Cobalt", "Copper", "Coral", "Crest", "Crystal", "Delta", "Eagle", "Echo",
  "Ember", "Falcon", "Fern", "Granite", "Green", "Harbor", "Hazel", "Horizon", "Indigo", "Iron",
  "Juniper", "Lake", "Linden", "Lunar", "Maple", "Meadow", "Mesa", "Nimbus", "North", "Oak",
  "Onyx", "Orbit", "Pine", "Prairie", "Quartz", "Raven", "Ridge", "River", "Sage", "Silver",
  "Solar", "Spruce", "Stone", "Summit", "Swift", "Tide", "Timber", "Vertex", "Willow", "Zephyr",
];

export const COMPANY_NOUNS: readonly string[] = [
  "Analytics", "Bakery", "Brands", "Builders", "Capital", "Cloud", "Consulting", "Designs", "Dynamics", "Energy",
  "Engineering", "Foods", "Freight", "Goods", "Health", "Holdings", "Imports", "Industries", "Insights", "Interactive",
  "Logistics", "Media", "Medical", "Metrics", "Mobility", "Networks", "Outfitters", "Partners", "Pharma", "Robotics",
  "Security", "Software", "Solutions", "Studios", "Supply", "Systems", "Technologies", "Textiles", "Ventures", "Works",
];

export const COMPANY_SUFFIXES: readonly string[] = [
  "Inc", "LLC", "Ltd", "GmbH", "Co", "Group", "Corp", "PLC", "SA", "BV", "AB", "Pty Ltd",
];

export const STREET_NAMES: readonly string[] = [
  "Acacia", "Alder", "Ash", "Bay", "Beech", "Bluebell", "Bridge", "Brook", "Canal", "Castle",
  "Chapel", "Cherry", "Chestnut", "Church", "Cliff", "Clover", "College", "Cypress", "Dale", "Dove",
  "Elm", "Fairview", "Field", "Forest", "Garden", "Glen", "Grove", "Hawthorn", "Heather", "Highland",
  "Hill", "Holly", "Ivy", "Juniper", "Kings", "Lake", "Laurel", "Lilac", "Magnolia", "Main",
  "Maple", "Market", "Meadow", "Mill", "Mulberry", "Oak", "Orchard", "Park", "Pine", "Poplar",
  "Primrose", "Queens", "Railway", "Redwood", "River", "Rose", "Rowan", "School", "Sequoia", "Spring",
  "Station", "Sunset", "Sycamore", "Thistle", "Valley", "Victoria", "Vine", "Walnut", "Water", "Willow",
  "Windmill", "Woodland", "Aspen", "Birch", "Cedar", "Harbor", "Lantern", "Meridian", "Ridge", "Summit",
];

export const STREET_SUFFIXES: readonly string[] = [
  "Street", "Avenue", "Road", "Lane", "Drive", "Way", "Court", "Place", "Boulevard", "Terrace", "Close", "Crescent",
];
