<?php
/**
 * The plugin as WordPress loads it: header, HPOS declaration, gateway registration, settings, admin action.
 */

use Automattic\WooCommerce\Utilities\FeaturesUtil;

class PluginTest extends VbTestCase {

	/** get_file_data(): WordPress reads "Name: value" lines from the first 8 KiB of the main file. */
	public function test_main_file_has_a_wordpress_plugin_header() {
		$head = file_get_contents( VB_PLUGIN_FILE, false, null, 0, 8192 );
		foreach ( array( 'Plugin Name', 'Version', 'Requires at least', 'Requires PHP', 'Text Domain', 'WC requires at least', 'License' ) as $field ) {
			$this->assertMatchesRegularExpression( '/^[ \t\/*#@]*' . preg_quote( $field, '/' ) . ':\s*\S/mi', $head, $field );
		}
		$this->assertStringContainsString( "defined( 'ABSPATH' ) || exit;", $head );
	}

	public function test_declares_hpos_compatibility_before_woocommerce_init() {
		$this->assertTrue( has_action( 'before_woocommerce_init', 'voltbridge_wc_declare_compatibility' ) );
		$this->assertContains( array( 'custom_order_tables', realpath( VB_PLUGIN_FILE ), true ), array_map(
			function ( $declared ) {
				return array( $declared[0], realpath( $declared[1] ), $declared[2] );
			},
			FeaturesUtil::$declared
		) );
	}

	public function test_registers_the_gateway_with_its_settings() {
		$this->assertContains( 'WC_Gateway_Voltbridge', apply_filters( 'woocommerce_payment_gateways', array() ) );
		$gateway = new WC_Gateway_Voltbridge();
		$this->assertSame( 'voltbridge', $gateway->id );
		foreach ( array( 'base_url', 'api_key', 'webhook_secret', 'network', 'expiry_hours' ) as $field ) {
			$this->assertArrayHasKey( $field, $gateway->form_fields );
		}
		$this->assertSame( array( 'testnet', 'mainnet' ), array_keys( $gateway->form_fields['network']['options'] ) );
		$this->assertTrue( has_action( 'woocommerce_api_voltbridge', array( $gateway, 'handle_webhook' ) ) );
	}

	public function test_settings_are_validated_when_saved() {
		$gateway = new WC_Gateway_Voltbridge();
		$gateway->process_admin_options(
			array(
				'base_url'     => 'ftp://nope',
				'api_key'      => 'too-short',
				'expiry_hours' => '500',
			)
		);
		$this->assertCount( 3, WC_Admin_Settings::$errors );
		$this->assertSame( 'https://gateway.test', $gateway->get_option( 'base_url' ) );
		$this->assertSame( self::API_KEY, $gateway->get_option( 'api_key' ) );
		$this->assertSame( '24', $gateway->get_option( 'expiry_hours' ) );

		$gateway->process_admin_options(
			array(
				'base_url'     => 'https://pay.example.com/',
				'api_key'      => ' ' . str_repeat( 'k', 32 ) . ' ',
				'expiry_hours' => '48',
			)
		);
		$this->assertCount( 3, WC_Admin_Settings::$errors );
		$this->assertSame( 'https://pay.example.com', $gateway->get_option( 'base_url' ) );
		$this->assertSame( str_repeat( 'k', 32 ), $gateway->get_option( 'api_key' ) );
		$this->assertSame( '48', $gateway->get_option( 'expiry_hours' ) );
	}

	public function test_connection_check_needs_the_capability() {
		$GLOBALS['vb_caps'] = array();
		try {
			voltbridge_wc_test_connection();
			$this->fail( 'request should end' );
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 403, $ended->status );
		}
		$this->assertSame( array(), $GLOBALS['vb_http_log'], 'no call to the gateway' );
	}

	public function test_connection_check_needs_a_valid_nonce() {
		$GLOBALS['vb_nonce_ok'] = false;
		try {
			voltbridge_wc_test_connection();
			$this->fail( 'request should end' );
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 403, $ended->status );
		}
		$this->assertSame( array(), $GLOBALS['vb_http_log'] );
	}

	public function test_connection_check_reports_the_store() {
		$GLOBALS['vb_http_queue'] = array(
			self::answer( 200, array( 'success' => true, 'data' => array( 'store' => array( 'name' => 'Shop <b>', 'network' => 'sandbox', 'has_destination_wallet' => true ) ) ) ),
		);
		try {
			voltbridge_wc_test_connection();
			$this->fail( 'should redirect back to the settings' );
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 302, $ended->status );
		}
		$sent = json_decode( $GLOBALS['vb_http_log'][0]['args']['body'], true );
		$this->assertSame( 'https://gateway.test/api/plugin/test-connection', $GLOBALS['vb_http_log'][0]['url'] );
		$this->assertSame( self::API_KEY, $sent['api_key'] );
		$this->assertSame( 'testnet', $sent['network'] );

		ob_start();
		voltbridge_wc_admin_notice();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'notice-success', $html );
		$this->assertStringContainsString( 'Shop &lt;b&gt;', $html, 'escaped' );
	}

	public function test_connection_failure_is_shown_to_the_admin() {
		$GLOBALS['vb_http_queue'] = array( self::answer( 401, array( 'success' => false, 'message' => 'The provided API key is invalid', 'error_code' => 'INVALID_API_KEY' ) ) );
		try {
			voltbridge_wc_test_connection();
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 302, $ended->status );
		}
		ob_start();
		voltbridge_wc_admin_notice();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'notice-error', $html );
		$this->assertStringContainsString( 'INVALID_API_KEY', $html );
	}
}
