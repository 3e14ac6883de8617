<?php
/**
 * Loads the WordPress/WooCommerce stubs and the plugin as WordPress would (plugins_loaded), for PHPUnit and
 * for the test web server (server/router.php). Not part of the shipped plugin.
 */

require_once __DIR__ . '/stubs/wordpress.php';
require_once __DIR__ . '/stubs/woocommerce.php';

define( 'VB_PLUGIN_DIR', dirname( __DIR__ ) . '/plugin' );
define( 'VB_PLUGIN_FILE', VB_PLUGIN_DIR . '/voltbridge-woocommerce.php' );

require_once VB_PLUGIN_FILE;
do_action( 'before_woocommerce_init' );
do_action( 'plugins_loaded' );
do_action( 'woocommerce_blocks_loaded' );
do_action( 'init' );

/** Gateway settings from the environment (the pytest orchestration passes its real gateway here). */
function vb_settings_from_env() {
	update_option(
		'woocommerce_voltbridge_settings',
		array(
			'enabled'        => 'yes',
			'base_url'       => (string) getenv( 'VB_GATEWAY_URL' ),
			'api_key'        => (string) getenv( 'VB_API_KEY' ),
			'webhook_secret' => (string) getenv( 'VB_WEBHOOK_SECRET' ),
			'network'        => 'testnet',
			'expiry_hours'   => '2',
		)
	);
}

if ( getenv( 'VB_GATEWAY_URL' ) ) {
	vb_settings_from_env();
}

if ( class_exists( 'PHPUnit\Framework\TestCase' ) ) {
	require_once __DIR__ . '/VbTestCase.php';
}
