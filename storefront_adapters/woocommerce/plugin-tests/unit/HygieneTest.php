<?php
/**
 * Issue 20, point 7: currencies the gateway cannot price, translations, and a gateway URL that keeps the API
 * key off plain http.
 */

class HygieneTest extends VbTestCase {

	private function notices() {
		ob_start();
		do_action( 'admin_notices' );
		return (string) ob_get_clean();
	}

	public function test_hidden_for_a_currency_the_gateway_does_not_price_with_an_admin_notice() {
		$gateway = new WC_Gateway_Voltbridge();
		$this->assertTrue( $gateway->is_available() );
		$this->assertSame( '', $this->notices() );

		update_option( 'woocommerce_currency', 'XAU' );
		$this->assertFalse( $gateway->is_available() );
		$this->assertArrayNotHasKey( 'voltbridge', WC()->payment_gateways()->get_available_payment_gateways() );
		$notice = $this->notices();
		$this->assertStringContainsString( 'notice-warning', $notice );
		$this->assertStringContainsString( 'hidden at checkout because the gateway cannot price orders in XAU', $notice );
		$this->assertStringContainsString( 'USD', $notice );

		$GLOBALS['vb_caps'] = array(); // only for those who manage WooCommerce
		$this->assertSame( '', $this->notices() );
	}

	public function test_every_currency_the_gateway_prices_is_offered() {
		foreach ( array( 'USD', 'EUR', 'JPY', 'gbp' ) as $currency ) {
			update_option( 'woocommerce_currency', $currency );
			$this->assertTrue( ( new WC_Gateway_Voltbridge() )->is_available(), $currency );
		}
	}

	/** @dataProvider urls */
	public function test_the_gateway_url_must_be_https_except_on_this_machine( $url, $accepted ) {
		$gateway = new WC_Gateway_Voltbridge();
		$gateway->process_admin_options( array( 'base_url' => $url ) );
		$this->assertSame( $accepted ? array() : 1, $accepted ? WC_Admin_Settings::$errors : count( WC_Admin_Settings::$errors ) );
		$this->assertSame( $accepted ? untrailingslashit( $url ) : 'https://gateway.test', $gateway->get_option( 'base_url' ) );
	}

	public function urls() {
		return array(
			'https'             => array( 'https://pay.example.com', true ),
			'https with a port' => array( 'https://pay.example.com:8443/', true ),
			'localhost'         => array( 'http://localhost:8000', true ),
			'loopback'          => array( 'http://127.0.0.1:8000', true ),
			'ipv6 loopback'     => array( 'http://[::1]:8000', true ),
			'a .localhost name' => array( 'http://gateway.localhost', true ),
			'plain http'        => array( 'http://pay.example.com', false ),
			'http to a LAN box' => array( 'http://192.168.1.20:8000', false ),
			'lookalike'         => array( 'http://localhost.evil.com', false ),
			'credentials'       => array( 'https://user:pass@pay.example.com', false ),
			'no scheme'         => array( 'pay.example.com', false ),
		);
	}

	public function test_a_plain_http_url_saved_earlier_never_gets_the_api_key() {
		$settings             = get_option( 'woocommerce_voltbridge_settings' );
		$settings['base_url'] = 'http://pay.example.com';
		update_option( 'woocommerce_voltbridge_settings', $settings );
		VB_Order_Store::create( array( 'id' => 9 ) );
		$GLOBALS['vb_http_queue'] = array();
		$result = ( new WC_Gateway_Voltbridge() )->process_payment( 9 );
		$this->assertSame( 'failure', $result['result'] );
		$this->assertSame( array(), $GLOBALS['vb_http_log'], 'nothing was sent' );
		$this->assertStringContainsString( 'INSECURE_GATEWAY_URL', implode( ' ', $this->order( 9 )->get_notes() ) );
	}

	public function test_translations_load_from_the_languages_folder() {
		$head = file_get_contents( VB_PLUGIN_FILE, false, null, 0, 8192 );
		$this->assertMatchesRegularExpression( '/^[ \t\/*#@]*Domain Path:\s*\/languages\s*$/mi', $head );
		$this->assertMatchesRegularExpression( '/^[ \t\/*#@]*Text Domain:\s*voltbridge-woocommerce\s*$/mi', $head );
		$this->assertTrue( has_action( 'init', 'voltbridge_wc_load_textdomain' ) );
		$this->assertSame( 'plugin/languages', $GLOBALS['vb_textdomains']['voltbridge-woocommerce'] );
		$pot = VB_PLUGIN_DIR . '/languages/voltbridge-woocommerce.pot';
		$this->assertFileExists( $pot );
		$text = file_get_contents( $pot );
		$this->assertStringContainsString( 'msgid "Accept crypto payments through voltbridge"', $text );
		$this->assertStringContainsString( '"X-Domain: voltbridge-woocommerce\n"', $text );
	}
}
