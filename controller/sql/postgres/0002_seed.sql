-- Seed data on PostgreSQL: the same rows as controller/sql/sqlite/0002_seed.sql. What the classic
-- Controller creates at first start (controller.md §1.3), with the same ids, so clients that rely
-- on them (registry 1 = Docker Hub, fog type 1 = x86, catalog ids) keep working. Facts from the
-- classic seeders; the SQL is ours.

-- Registries: 1 = Docker Hub, 2 = the agent's local image cache (never pulls).
INSERT INTO registries
    (id, url, is_public, secure, certificate, requires_cert, user_name, password, user_email, user_id)
VALUES
    (1, 'registry.hub.docker.com', 1, 1, '', 0, '', '', '', NULL),
    (2, 'from_cache', 1, 1, '', 0, '', '', '', NULL);

-- Catalog items. 1-3 and Router/Proxy/PortRouter are the SYSTEM items; Router, Proxy and
-- PortRouter are listed as the classic catalog lists them, but we never send them to agents.
-- Common Logging was seeded private and then made public by the classic default-configs seeder;
-- the final state is seeded here.
INSERT INTO catalog_items
    (id, name, description, category, config_example, publisher, disk_required, ram_required,
     picture, is_public, registry_id, user_id)
VALUES
    (1, 'Networking Tool', 'The built-in networking tool for Eclipse ioFog.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL),
    (2, 'RESTBlue', 'REST API for Bluetooth Low Energy layer.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL),
    (3, 'HAL', 'REST API for Hardware Abstraction layer.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL),
    (4, 'Diagnostics', '0', 'UTILITIES', NULL,
     'Eclipse ioFog', 0, 0, 'images/build/580.png', 1, 1, NULL),
    (5, 'Hello Web Demo', 'A simple web server to test Eclipse ioFog.', 'UTILITIES', NULL,
     'Eclipse ioFog', 0, 0, 'images/build/4.png', 1, 1, NULL),
    (6, 'Open Weather Map Data', 'A stream of data from the Open Weather Map API in JSON format',
     'SENSORS', '{"citycode":"5391997","apikey":"6141811a6136148a00133488eadff0fb","frequency":1000}',
     'Eclipse ioFog', 0, 0, 'images/build/8.png', 1, 1, NULL),
    (7, 'JSON REST API', 'A configurable REST API that gives JSON output', 'UTILITIES',
     '{"buffersize":3,"contentdataencoding":"utf8","contextdataencoding":"utf8","outputfields":{"publisher":"source","contentdata":"temperature","timestamp":"time"}}',
     'Eclipse ioFog', 0, 0, 'images/build/49.png', 1, 1, NULL),
    (8, 'Temperature Converter', 'A simple temperature format converter', 'UTILITIES', NULL,
     'Eclipse ioFog', 0, 0, 'images/build/58.png', 1, 1, NULL),
    (9, 'JSON Sub-Select', 'Performs sub-selection and transform operations on any JSON messages',
     'UTILITIES', '{}', 'Eclipse ioFog', 0, 0, 'images/build/59.png', 1, 1, NULL),
    (10, 'Humidity Sensor Simulator', 'Humidity Sensor Simulator for Eclipse ioFog', 'SIMULATOR',
     NULL, 'Eclipse ioFog', 0, 0, 'images/build/simulator.png', 1, 1, NULL),
    (11, 'Seismic Sensor Simulator', 'Seismic Sensor Simulator for Eclipse ioFog', 'SIMULATOR',
     NULL, 'Eclipse ioFog', 0, 0, 'images/build/simulator.png', 1, 1, NULL),
    (12, 'Temperature Sensor Simulator', 'Temperature Sensor Simulator for Eclipse ioFog',
     'SIMULATOR', NULL, 'Eclipse ioFog', 0, 0, 'images/build/simulator.png', 1, 1, NULL),
    (13, 'Common Logging',
     'Container which gathers logs and provides REST API for adding and querying logs from containers',
     'UTILITIES', '{"access_tokens": ["Some_Access_Token"], "cleanfrequency": "1h40m", "ttl": "24h"}',
     'Eclipse ioFog', 0, 0, 'none.png', 1, 1, NULL),
    (14, 'JSON Generator',
     'Container generates ioMessages with contentdata as complex JSON object.', 'UTILITIES', '{}',
     'Eclipse ioFog', 0, 0, 'none.png', 1, 1, NULL),
    (15, 'Router', 'The built-in router for Eclipse ioFog.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL),
    (16, 'Proxy', 'The built-in proxy for Eclipse ioFog.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL),
    (17, 'PortRouter', 'The built-in port-router for Eclipse ioFog.', 'SYSTEM', NULL,
     'Eclipse ioFog', 0, 0, 'none.png', 0, 1, NULL);

-- Fog types; each names the system catalog items for networking (1), HAL (3) and Bluetooth (2).
INSERT INTO fog_types
    (id, name, image, description, network_catalog_item_id, hal_catalog_item_id,
     bluetooth_catalog_item_id)
VALUES
    (0, 'Unspecified', 'iointegrator0.png',
     'Unspecified device. Fog Type will be selected on provision', 1, 3, 2),
    (1, 'Standard Linux (x86)', 'iointegrator1.png',
     'A standard Linux server of at least moderate processing power and capacity. Compatible with common Linux types such as Ubuntu, Red Hat, and CentOS.',
     1, 3, 2),
    (2, 'ARM Linux', 'iointegrator2.png',
     'A version of ioFog meant to run on Linux systems with ARM processors. Microservices for this ioFog type will be tailored to ARM systems.',
     1, 3, 2);

-- Images of the catalog items: fog type 1 = x86, 2 = ARM.
INSERT INTO catalog_item_images (catalog_item_id, fog_type_id, container_image)
VALUES
    (1, 1, 'iofog/core-networking'),
    (1, 2, 'iofog/core-networking-arm'),
    (2, 1, 'iofog/restblue'),
    (2, 2, 'iofog/restblue-arm'),
    (3, 1, 'iofog/hal'),
    (3, 2, 'iofog/hal-arm'),
    (4, 1, 'iofog/diagnostics'),
    (4, 2, 'iofog/diagnostics-arm'),
    (5, 1, 'iofog/hello-web'),
    (5, 2, 'iofog/hello-web-arm'),
    (6, 1, 'iofog/open-weather-map'),
    (6, 2, 'iofog/open-weather-map-arm'),
    (7, 1, 'iofog/json-rest-api'),
    (7, 2, 'iofog/json-rest-api-arm'),
    (8, 1, 'iofog/temperature-conversion'),
    (8, 2, 'iofog/temperature-conversion-arm'),
    (9, 1, 'iofog/json-subselect'),
    (9, 2, 'iofog/json-subselect-arm'),
    (10, 1, 'iofog/humidity-sensor-simulator'),
    (10, 2, 'iofog/humidity-sensor-simulator-arm'),
    (11, 1, 'iofog/seismic-sensor-simulator'),
    (11, 2, 'iofog/seismic-sensor-simulator-arm'),
    (12, 1, 'iofog/temperature-sensor-simulator'),
    (12, 2, 'iofog/temperature-sensor-simulator-arm'),
    (13, 1, 'iofog/common-logging'),
    (13, 2, 'iofog/common-logging-arm'),
    (14, 1, 'iofog/json-generator'),
    (14, 2, 'iofog/json-generator-arm'),
    (15, 1, 'iofog/router:latest'),
    (15, 2, 'iofog/router-arm:latest'),
    (16, 1, 'iofog/proxy:latest'),
    (16, 2, 'iofog/proxy-arm:latest'),
    (17, 1, 'iofog/port-router:latest'),
    (17, 2, 'iofog/port-router:latest');

-- Identity columns do not move when rows are inserted with explicit ids: start the generated
-- ones after the seeded ids (SQLite's AUTOINCREMENT does this by itself).
SELECT setval(pg_get_serial_sequence('registries', 'id'), (SELECT MAX(id) FROM registries));
SELECT setval(pg_get_serial_sequence('catalog_items', 'id'), (SELECT MAX(id) FROM catalog_items));
